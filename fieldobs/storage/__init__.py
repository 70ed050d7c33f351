"""Storage: SQLite connections, transactions, migrations, the change feed and backups (no Flask)."""
