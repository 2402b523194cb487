"""The SQLite backend, one module per role of `config.storage`.

`connection` owns the one connection and its thread (and is the lifecycle role); every
other module adds one role's methods to it, and `config.sqlite_store` combines them into
`SQLiteStore`. Another backend mirrors this layout against the same protocols.
"""
