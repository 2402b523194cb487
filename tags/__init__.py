"""Tag templates: what a fired tag sends to its platform."""
