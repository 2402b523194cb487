"""The PostgreSQL backend, one module per role of `config.storage`, mirroring `config.sqlite`.

`connection` owns the connection pool (and is the lifecycle role); every other module adds
one role's methods to it, and `config.postgres_store` combines them into `PostgresStore`.
"""
