"""SQLite persistence: one writer with group commit, a reader, migrations and repositories."""
