"""Values read from a hit, the request and cookies; consent state. Pure code, no I/O."""
