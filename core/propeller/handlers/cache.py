"""The task cache, node side: look up before an attempt starts, serialize, populate after
(FlytePropeller's ``nodes/cache.go``).

The task handler calls in at four points:

- :func:`before_attempt`, each round until an attempt has started: look the key up (a hit ends
  the node with the cached outputs, no attempt runs); with cache serialization, take the
  reservation or wait for its holder (then look up again: the holder may have filled it);
- :func:`heartbeat`, each round while the attempt (or a dynamic task's sub-workflow) runs:
  extend the reservation, and ask for a round before it could expire;
- :func:`populate`, when the task succeeded: store the outputs, release the reservation;
- :func:`release`, when an attempt failed or was aborted.

The node's ``cache_status`` says what happened (the node events carry it to the admin). The
catalog failing never fails the node: a failed lookup runs the task, a failed put keeps the
outputs, a failed reservation call runs without serialization.
"""

from __future__ import annotations

import logging

import attrs

from flytecore.propeller.catalog import Catalog, CatalogKey, catalog_key
from flytecore.propeller.context import NodeContext, Transition
from flytecore.spec.events import CatalogCacheStatus
from flytecore.spec.literals import LiteralMap
from flytecore.spec.tasks import TaskTemplate

__all__ = ["CacheSettings", "before_attempt", "heartbeat", "populate", "release", "settings"]

log = logging.getLogger(__name__)

_KEYS = "catalog_keys"  # the run's memo: node key -> CatalogKey (inputs never change for a node)


@attrs.frozen
class CacheSettings:
    """How the cache treats one node: the task's settings with the node's overrides applied.

    :ivar catalog: the catalog to use.
    :ivar version: the cache version.
    :ivar serializable: executions computing the same key take turns.
    """

    catalog: Catalog
    version: str
    serializable: bool


def settings(ctx: NodeContext, template: TaskTemplate) -> CacheSettings | None:
    """The node's cache settings, or None when it is not cached (or there is no catalog)."""
    catalog = ctx.engine.services.catalog
    meta, node_meta = template.metadata, ctx.node.metadata
    cacheable = meta.discoverable
    version, serializable = meta.discovery_version, meta.cache_serializable
    if node_meta is not None:
        cacheable = cacheable if node_meta.cacheable is None else node_meta.cacheable
        version = version if node_meta.cache_version is None else node_meta.cache_version
        serializable = serializable if node_meta.cache_serializable is None else node_meta.cache_serializable
    if catalog is None or not cacheable:
        return None
    return CacheSettings(catalog, version, serializable)


def _key(ctx: NodeContext, template: TaskTemplate, cache: CacheSettings) -> CatalogKey:
    memo = ctx.run.memo[_KEYS]
    key = memo.get(ctx.key)
    if key is None:
        key = memo[ctx.key] = catalog_key(template, ctx.inputs, cache_version=cache.version)
    assert isinstance(key, CatalogKey)
    return key


def _owner(ctx: NodeContext) -> str:
    """The reservation owner: the node execution (the same across attempts and restarts)."""
    eid = ctx.run.obj.execution_id
    return f"{eid.project}:{eid.domain}:{eid.name}/{ctx.key}"


def _set(ctx: NodeContext, status: CatalogCacheStatus) -> None:
    if ctx.status.cache_status != status:
        ctx.status.cache_status = int(status)
        ctx.touch()


def _lookup(
    ctx: NodeContext, template: TaskTemplate, cache: CacheSettings, key: CatalogKey
) -> Transition | None:
    try:
        entry = cache.catalog.get(key)
    except Exception as exc:  # the cache is an optimization: run the task instead
        log.warning("node %s: cache lookup of %s failed: %s", ctx.key, key, exc)
        _set(ctx, CatalogCacheStatus.CACHE_LOOKUP_FAILURE)
        return None
    if entry is not None:
        missing = set(template.interface.outputs) - set(entry.outputs.literals)
        if not missing:
            _set(ctx, CatalogCacheStatus.CACHE_HIT)
            return Transition.succeeded(
                entry.outputs,
                message=f"cache hit: outputs of {entry.source_execution} node {entry.source_node}",
            )
        log.warning(
            "node %s: cached entry %s lacks output(s) %s; running the task", ctx.key, key, sorted(missing)
        )
    _set(ctx, CatalogCacheStatus.CACHE_MISS)
    return None


def before_attempt(ctx: NodeContext, template: TaskTemplate, cache: CacheSettings) -> Transition | None:
    """Before an attempt starts: a transition that ends or holds the node (a hit, waiting for
    another execution's reservation), or None to start the attempt.

    The first attempt looks the key up (unless the execution overwrites the cache); with
    serialization every attempt does, since it may have waited while another filled the entry.
    """
    key = _key(ctx, template, cache)
    if ctx.run.obj.overwrite_cache:
        _set(ctx, CatalogCacheStatus.CACHE_SKIPPED)
    elif ctx.status.retry_attempt == 0 or cache.serializable:
        hit = _lookup(ctx, template, cache, key)
        if hit is not None:
            return hit
    if not cache.serializable:
        return None
    owner = _owner(ctx)
    interval = ctx.engine.config.poll_interval
    try:
        reservation = cache.catalog.get_or_extend_reservation(key, owner, interval, now=ctx.now)
    except Exception as exc:
        log.warning("node %s: reserving %s failed, running without serialization: %s", ctx.key, key, exc)
        return None
    if reservation.held_by(owner):
        return None
    # Look again at the next heartbeat: the holder extends its reservation each interval, so a
    # dead holder's runs out after a few and this node takes over.
    wake = min(reservation.expires_at, ctx.now + interval)
    return Transition.running(
        wake_at=wake, message=f"waiting for {reservation.owner} to compute the cached outputs"
    )


def heartbeat(
    ctx: NodeContext, template: TaskTemplate, cache: CacheSettings, transition: Transition
) -> Transition:
    """While the node runs: extend a serialized node's reservation and return ``transition``
    with a wake-up before the reservation could expire."""
    if not cache.serializable:
        return transition
    interval = ctx.engine.config.poll_interval
    try:
        cache.catalog.get_or_extend_reservation(
            _key(ctx, template, cache), _owner(ctx), interval, now=ctx.now
        )
    except Exception as exc:
        log.warning("node %s: extending the cache reservation failed: %s", ctx.key, exc)
    wake = ctx.now + interval
    if transition.wake_at is not None and transition.wake_at < wake:
        return transition
    return attrs.evolve(transition, wake_at=wake)


def populate(ctx: NodeContext, template: TaskTemplate, cache: CacheSettings, outputs: LiteralMap) -> None:
    """The task succeeded: store its outputs (replacing an entry when the execution overwrites
    the cache) and release the reservation."""
    key = _key(ctx, template, cache)
    eid = ctx.run.obj.execution_id
    try:
        cache.catalog.put(
            key,
            outputs,
            source_execution=f"{eid.project}:{eid.domain}:{eid.name}",
            source_node=ctx.key,
            overwrite=ctx.run.obj.overwrite_cache,
            now=ctx.now,
        )
    except Exception as exc:  # the node has its outputs: only the next execution misses out
        log.warning("node %s: storing %s in the cache failed: %s", ctx.key, key, exc)
        _set(ctx, CatalogCacheStatus.CACHE_PUT_FAILURE)
    else:
        _set(ctx, CatalogCacheStatus.CACHE_POPULATED)
    release(ctx, template, cache)


def release(ctx: NodeContext, template: TaskTemplate, cache: CacheSettings) -> None:
    """Release a serialized node's reservation (an attempt ended); waiting executions take over."""
    if not cache.serializable:
        return
    try:
        cache.catalog.release_reservation(_key(ctx, template, cache), _owner(ctx))
    except Exception as exc:  # it expires on its own
        log.warning("node %s: releasing the cache reservation failed: %s", ctx.key, exc)
