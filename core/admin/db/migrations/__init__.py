"""Alembic migrations of the admin database (run through flytecore.admin.db.migrate)."""
