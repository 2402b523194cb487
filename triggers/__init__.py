"""Declarative conditions deciding which tags fire for a hit. Pure functions, no I/O."""
