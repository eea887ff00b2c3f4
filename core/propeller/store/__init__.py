"""Workflow stores of the propeller: where workflow objects and their states live durably.

:class:`WorkflowStore` is the contract; :class:`SqlWorkflowStore` keeps workflows in SQLite
(local default) or PostgreSQL and leases each to one propeller at a time.
"""

from __future__ import annotations

from flytecore.propeller.store.base import (
    TERMINAL_PHASES,
    Leased,
    OutboxEvent,
    WorkflowInfo,
    WorkflowSnapshot,
    WorkflowStore,
)
from flytecore.propeller.store.errors import LeaseLost, SchemaMismatch, StoreError
from flytecore.propeller.store.sql import SqlWorkflowStore

__all__ = [
    "TERMINAL_PHASES",
    "Leased",
    "LeaseLost",
    "OutboxEvent",
    "SchemaMismatch",
    "SqlWorkflowStore",
    "StoreError",
    "WorkflowInfo",
    "WorkflowSnapshot",
    "WorkflowStore",
]
