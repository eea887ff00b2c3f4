"""grpc.aio server interceptors: metrics for every RPC, and the optional bearer-token check.

The server installs :class:`MetricsInterceptor` first, so it also counts the calls that
:class:`AuthInterceptor` refuses (as ``UNAUTHENTICATED``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from flytecore.admin.auth import BearerTokens
from flytecore.admin.metrics import AdminMetrics

__all__ = ["AuthInterceptor", "MetricsInterceptor"]

Continuation = Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]]


def _code_name(context: Any, failed: BaseException | None) -> str:
    """The status a call ended with: what the servicer set or aborted with; OK when it returned;
    UNKNOWN for an exception gRPC turns into UNKNOWN itself (the servicers never let one out)."""
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return str(code.name)
    if failed is None or isinstance(failed, GeneratorExit):
        return "OK"
    if isinstance(failed, asyncio.CancelledError):  # the client went away or the server stops
        return "CANCELLED"
    return "UNKNOWN"


class MetricsInterceptor(grpc.aio.ServerInterceptor):
    """Counts and times every unary and server-streaming RPC into an :class:`AdminMetrics`,
    labelled with the full method name and the status code name."""

    def __init__(self, metrics: AdminMetrics) -> None:
        self.metrics = metrics

    async def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        handler = await continuation(handler_call_details)
        # None: a method nobody serves; gRPC answers UNIMPLEMENTED. Not counted: its name comes
        # from the caller, and every made-up name would become a series of its own.
        if handler is None:
            return None
        method = handler_call_details.method
        metrics = self.metrics
        if handler.unary_unary is not None:
            inner_unary = handler.unary_unary

            async def unary(request: Any, context: Any) -> Any:
                start, failed = time.perf_counter(), None
                try:
                    return await inner_unary(request, context)
                except BaseException as exc:
                    failed = exc
                    raise
                finally:
                    metrics.observe_grpc(method, _code_name(context, failed), time.perf_counter() - start)

            return handler._replace(unary_unary=unary)  # type: ignore[attr-defined,no-any-return]
        if handler.unary_stream is not None:
            inner_stream = handler.unary_stream

            async def stream(request: Any, context: Any) -> AsyncIterator[Any]:
                start, failed = time.perf_counter(), None
                try:
                    async for response in inner_stream(request, context):
                        yield response
                except BaseException as exc:
                    failed = exc
                    raise
                finally:
                    metrics.observe_grpc(method, _code_name(context, failed), time.perf_counter() - start)

            return handler._replace(unary_stream=stream)  # type: ignore[attr-defined,no-any-return]
        return handler  # client-streaming RPCs: flyteidl's admin services have none


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Refuses, with ``UNAUTHENTICATED``, every call without ``authorization: Bearer <token>``
    naming one of the accepted tokens. The servicer is never reached for a refused call."""

    def __init__(self, tokens: BearerTokens) -> None:
        self.tokens = tokens

    async def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        metadata = handler_call_details.invocation_metadata or ()
        # gRPC lower-cases metadata keys on the wire; several values: the first one counts.
        value = next((str(v) for k, v in metadata if k.lower() == "authorization"), None)
        refusal = self.tokens.refusal(value)
        if refusal is None:
            return handler
        message = f"{handler_call_details.method}: {refusal}"

        async def deny(request: Any, context: Any) -> Any:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

        async def deny_stream(request: Any, context: Any) -> AsyncIterator[Any]:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)
            yield  # pragma: no cover - makes this an async generator; abort raised already

        # The same kind of handler as the real one, so gRPC reads the request as it would have.
        for kind, refuse in (
            ("unary_unary", deny), ("unary_stream", deny_stream), ("stream_unary", deny), ("stream_stream", deny_stream)
        ):
            if getattr(handler, kind) is not None:
                return handler._replace(**{kind: refuse})  # type: ignore[attr-defined,no-any-return]
        return None
