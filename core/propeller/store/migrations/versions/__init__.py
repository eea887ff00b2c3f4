"""Revisions of the workflow store schema; frozen once released."""
