"""The flytecore plugin system.

Plugins import :data:`hookimpl` from here and implement hooks declared in
:mod:`flytecore.plugin.hookspecs`. :func:`make_plugin_host` builds a host (nothing loads at
import time); :func:`get_host` gives the process's default host, built on first use.
"""

from __future__ import annotations

from flytecore.plugin._markers import ENTRY_POINT_GROUP, PROJECT_NAME, hookimpl, hookspec
from flytecore.plugin.context import context_attribute
from flytecore.plugin.faces import (
    KNOWN_PLUGIN_DISTRIBUTIONS,
    ErrorKind,
    K8sTaskContext,
    KubernetesFace,
    TaskExecutionPhase,
    TaskStatus,
    distribution_for,
    k8s_resources,
    missing_plugin_hint,
)
from flytecore.plugin.manager import PluginHost, PluginInfo, get_host, make_plugin_host, use_host
from flytecore.plugin.registry import (
    CliCommandRegistry,
    CompilerPassRegistry,
    ExecutionRegistry,
    Registry,
    StorageBackend,
    StorageRegistry,
    TaskType,
    TaskTypeRegistry,
    TypeTransformerRegistry,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "KNOWN_PLUGIN_DISTRIBUTIONS",
    "ErrorKind",
    "K8sTaskContext",
    "KubernetesFace",
    "TaskExecutionPhase",
    "TaskStatus",
    "context_attribute",
    "distribution_for",
    "k8s_resources",
    "missing_plugin_hint",
    "PROJECT_NAME",
    "CliCommandRegistry",
    "CompilerPassRegistry",
    "ExecutionRegistry",
    "PluginHost",
    "PluginInfo",
    "Registry",
    "StorageBackend",
    "StorageRegistry",
    "TaskType",
    "TaskTypeRegistry",
    "TypeTransformerRegistry",
    "get_host",
    "hookimpl",
    "hookspec",
    "make_plugin_host",
    "use_host",
]
