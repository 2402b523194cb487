"""Delivery: the outbox writer that makes hits durable, and the sender that drains it."""
