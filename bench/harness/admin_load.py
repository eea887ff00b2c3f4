"""Load on a running admin over gRPC: C concurrent clients calling one RPC for a while.

``python -m bench.harness.admin_load --target HOST:PORT --rpc create|get --concurrency C
--seconds S --launch-plan PROJECT/DOMAIN/NAME/VERSION`` prints one JSON line: calls, errors,
calls per second, p50 and p99 latency in ms. Clients are coroutines on one grpc.aio channel
each (a real client's connection), in this process, which is separate from the admin's.
``get`` reads executions created beforehand by this same tool.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid

import grpc
from flyteidl.admin import common_pb2, execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2
from flyteidl.service import admin_pb2_grpc


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _client(target: str, rpc: str, lp: identifier_pb2.Identifier, until: float, names: list[str], out: list[float], errors: list[str]) -> None:
    async with grpc.aio.insecure_channel(target) as channel:
        stub = admin_pb2_grpc.AdminServiceStub(channel)
        i = 0
        while time.perf_counter() < until:
            start = time.perf_counter()
            try:
                if rpc == "create":
                    name = "b" + uuid.uuid4().hex[:19]
                    await stub.CreateExecution(
                        execution_pb2.ExecutionCreateRequest(
                            project=lp.project, domain=lp.domain, name=name,
                            spec=execution_pb2.ExecutionSpec(launch_plan=lp), inputs=literals_pb2.LiteralMap(),
                        )
                    )
                else:
                    name = names[i % len(names)]
                    i += 1
                    await stub.GetExecution(
                        execution_pb2.WorkflowExecutionGetRequest(
                            id=identifier_pb2.WorkflowExecutionIdentifier(project=lp.project, domain=lp.domain, name=name)
                        )
                    )
            except grpc.aio.AioRpcError as exc:
                errors.append(f"{exc.code().name}: {exc.details()}")
                continue
            out.append(time.perf_counter() - start)


async def load(target: str, rpc: str, lp: identifier_pb2.Identifier, concurrency: int, seconds: float) -> dict[str, object]:
    names: list[str] = []
    if rpc == "get":  # executions to read: made first, not timed
        made: list[float] = []
        await _client(target, "create", lp, time.perf_counter() + 2.0, [], made, [])
        async with grpc.aio.insecure_channel(target) as channel:
            stub = admin_pb2_grpc.AdminServiceStub(channel)
            listed = await stub.ListExecutions(
                common_pb2.ResourceListRequest(
                    id=common_pb2.NamedEntityIdentifier(project=lp.project, domain=lp.domain), limit=200
                )
            )
            names = [e.id.name for e in listed.executions]
    latencies: list[float] = []
    errors: list[str] = []
    until = time.perf_counter() + seconds
    started = time.perf_counter()
    await asyncio.gather(*(_client(target, rpc, lp, until, names, latencies, errors) for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    ms = [x * 1000 for x in latencies]
    return {
        "rpc": rpc,
        "concurrency": concurrency,
        "calls": len(ms),
        "errors": len(errors),
        "first_error": errors[0] if errors else "",
        "per_second": len(ms) / elapsed,
        "p50_ms": statistics.median(ms) if ms else None,
        "p99_ms": _percentile(ms, 0.99) if ms else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--target", required=True)
    parser.add_argument("--rpc", choices=["create", "get"], required=True)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--launch-plan", required=True, help="PROJECT/DOMAIN/NAME/VERSION")
    args = parser.parse_args()
    project, domain, name, version = args.launch_plan.split("/", 3)
    lp = identifier_pb2.Identifier(
        resource_type=identifier_pb2.LAUNCH_PLAN, project=project, domain=domain, name=name, version=version
    )
    print(json.dumps(asyncio.run(load(args.target, args.rpc, lp, args.concurrency, args.seconds))))


if __name__ == "__main__":
    main()
