"""tagwire test suite; mirrors the packages."""
