"""Alembic migrations of the propeller's workflow store (run by :mod:`..migrate`)."""
