"""Graph algorithms the compiler needs, iterative and linear in nodes + edges."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import TypeVar

__all__ = ["unsortable", "strongly_connected_components", "find_cycle", "reachable"]

V = TypeVar("V", bound=Hashable)


def unsortable(edges: Mapping[V, Iterable[V]]) -> set[V]:
    """Vertices a topological sort (Kahn's) cannot place: those on a cycle or behind one. Cheap,
    so the costlier component search runs only on what is left, usually nothing."""
    indegree: dict[V, int] = {}
    for v, ws in edges.items():
        indegree.setdefault(v, 0)
        for w in ws:
            indegree[w] = indegree.get(w, 0) + 1
    ready = [v for v, d in indegree.items() if d == 0]
    while ready:
        for w in edges.get(ready.pop(), ()):
            indegree[w] -= 1
            if indegree[w] == 0:
                ready.append(w)
    return {v for v, d in indegree.items() if d > 0}


def strongly_connected_components(
    vertices: Iterable[V], successors: Callable[[V], Iterable[V]]
) -> list[list[V]]:
    """Tarjan's algorithm with an explicit stack: the strongly connected components, each a list
    of vertices. A component of more than one vertex (or a vertex with an edge to itself) is
    where the graph has cycles."""
    index: dict[V, int] = {}
    low: dict[V, int] = {}
    on_stack: set[V] = set()
    stack: list[V] = []
    components: list[list[V]] = []
    for root in vertices:
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter(successors(root)))]
        while work:
            v, edges = work[-1]
            for w in edges:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(successors(w))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[v])
                if low[v] == index[v]:
                    component = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        component.append(w)
                        if w == v:
                            break
                    components.append(component)
    return components


def find_cycle(start: V, members: set[V], successors: Callable[[V], Iterable[V]]) -> list[V]:
    """A shortest cycle through ``start`` inside ``members`` (a strongly connected component),
    as ``[start, ..., start]``; breadth first, so linear in the component's size."""
    parent: dict[V, V] = {}
    queue = deque([start])
    seen = {start}
    while queue:
        v = queue.popleft()
        for w in successors(v):
            if w == start:
                path = [v]
                while path[-1] != start:
                    path.append(parent[path[-1]])
                return [*reversed(path), start]
            if w in members and w not in seen:
                seen.add(w)
                parent[w] = v
                queue.append(w)
    return []


def reachable(start: V, edges: Mapping[V, Iterable[V]]) -> set[V]:
    """Vertices reachable from ``start`` (``start`` included)."""
    seen = {start}
    queue = deque([start])
    while queue:
        for w in edges.get(queue.popleft(), ()):
            if w not in seen:
                seen.add(w)
                queue.append(w)
    return seen
