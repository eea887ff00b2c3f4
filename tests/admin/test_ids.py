"""Ids checked from requests: kept per id once checked, never a refusal."""

from __future__ import annotations

import pytest
from flyteidl.core import identifier_pb2

from flytecore.admin.service import InvalidArgumentError
from flytecore.admin.service.executions.ids import execution_id_of, node_execution_id_of
from flytecore.spec.identifiers import NodeExecutionIdentifier, WorkflowExecutionIdentifier

DOMAINS = ("development", "staging", "production")


def node(node_id: str = "n0", name: str = "abc", org: str = "", domain: str = "development") -> object:
    eid = identifier_pb2.WorkflowExecutionIdentifier(project="flytesnacks", domain=domain, name=name, org=org)
    return identifier_pb2.NodeExecutionIdentifier(node_id=node_id, execution_id=eid)


def test_a_checked_id_is_the_spec_id_and_the_same_object_the_next_time() -> None:
    first = node_execution_id_of(node(), DOMAINS)
    assert first == NodeExecutionIdentifier(
        node_id="n0", execution_id=WorkflowExecutionIdentifier(project="flytesnacks", domain="development", name="abc")
    )
    assert node_execution_id_of(node(), list(DOMAINS)) is first  # a list of domains works too
    assert execution_id_of(node().execution_id, DOMAINS) is first.execution_id  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (node(name="Abc"), "execution id name 'Abc' must start with a lowercase letter"),
        (node(org="acme"), "organizations are not supported"),
        (node(domain="prod"), "prod"),
        (node(node_id=""), "node id"),
    ],
)
def test_a_refused_id_is_refused_every_time(bad: object, message: str) -> None:
    node_execution_id_of(node(), DOMAINS)  # a good one, kept
    for _ in range(2):  # a refusal is not kept: the second call checks (and refuses) again
        with pytest.raises(InvalidArgumentError, match=message):
            node_execution_id_of(bad, DOMAINS)


def test_what_is_kept_depends_on_the_admins_domains() -> None:
    with pytest.raises(InvalidArgumentError, match="prod"):
        node_execution_id_of(node(domain="prod"), DOMAINS)
    assert node_execution_id_of(node(domain="prod"), (*DOMAINS, "prod")).execution_id.domain == "prod"
    with pytest.raises(InvalidArgumentError, match="prod"):  # not with the first admin's domains
        node_execution_id_of(node(domain="prod"), DOMAINS)
