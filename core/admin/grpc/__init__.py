"""The admin's gRPC transport: flyteidl's AdminService, DataProxyService and SignalService
served with ``grpc.aio`` on top of the transport-free :mod:`flytecore.admin.service`.

The servicers are generated from flyteidl's service descriptors (:mod:`.servicers`): an RPC
calls the service method of the same name in snake_case, and answers ``UNIMPLEMENTED`` where
the service has none. :mod:`.interceptors` count and time every call and, when the admin has
bearer tokens, refuse calls without one. :mod:`.server` binds, runs and stops the gRPC server
and, beside it, the HTTP server (:mod:`flytecore.admin.http`).
"""

from __future__ import annotations

from flytecore.admin.grpc.server import (
    DEFAULT_GRPC_PORT,
    DEFAULT_HOST,
    DEFAULT_HTTP_PORT,
    RunningAdmin,
    ServedAddresses,
    ServerStartError,
    run_server,
    serve,
    serve_service,
    start_in_thread,
)
from flytecore.admin.grpc.servicers import (
    SERVED,
    add_servicers,
    implemented_rpcs,
    method_name,
    servicer_class,
)

__all__ = [
    "DEFAULT_GRPC_PORT",
    "DEFAULT_HOST",
    "DEFAULT_HTTP_PORT",
    "SERVED",
    "RunningAdmin",
    "ServedAddresses",
    "ServerStartError",
    "add_servicers",
    "implemented_rpcs",
    "method_name",
    "run_server",
    "serve",
    "serve_service",
    "servicer_class",
    "start_in_thread",
]
