"""A job's environment: set before each job of a warm worker, with only the variables that differ
changed, in os.environ and in the C environment its subprocesses and C extensions read."""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterator

import pytest

from flytecore.sdk import _handoff, _streams
from flytecore.sdk.entrypoint import _flyte_variables

_getenv = ctypes.CDLL(None).getenv
_getenv.restype = ctypes.c_char_p


def c_getenv(name: str) -> str | None:
    value = _getenv(name.encode())
    return None if value is None else value.decode()


@pytest.fixture
def saved_environ() -> Iterator[dict[object, object]]:
    saved = _streams.environ_data().copy()
    yield saved
    _streams.restore_environ(saved)


@pytest.fixture
def putenv_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real_putenv, real_unsetenv = os.putenv, os.unsetenv

    def putenv(key: str | bytes, value: str | bytes) -> None:
        calls.append(f"set {os.fsdecode(key)}")
        real_putenv(key, value)

    def unsetenv(key: str | bytes) -> None:
        calls.append(f"unset {os.fsdecode(key)}")
        real_unsetenv(key)

    monkeypatch.setattr(os, "putenv", putenv)
    monkeypatch.setattr(os, "unsetenv", unsetenv)
    return calls


def test_set_environ_makes_base_plus_extra_changing_only_what_differs(
    saved_environ: dict[object, object], putenv_calls: list[str]
) -> None:
    os.environ["FC_TEST_KEEP"] = "same"
    base = _streams.environ_data().copy()
    os.environ["FC_TEST_LEFT_BY_A_JOB"] = "x"
    os.environ["FC_TEST_KEEP"] = "changed by a job"
    os.environ["FC_TEST_NODE"] = "n1"
    putenv_calls.clear()

    _streams.set_environ(base, {"FC_TEST_NODE": "n2", "FC_TEST_EXEC": "e1"})

    assert "FC_TEST_LEFT_BY_A_JOB" not in os.environ and c_getenv("FC_TEST_LEFT_BY_A_JOB") is None
    assert os.environ["FC_TEST_KEEP"] == c_getenv("FC_TEST_KEEP") == "same"
    assert os.environ["FC_TEST_NODE"] == c_getenv("FC_TEST_NODE") == "n2"
    assert os.environ["FC_TEST_EXEC"] == c_getenv("FC_TEST_EXEC") == "e1"
    assert sorted(putenv_calls) == [
        "set FC_TEST_EXEC", "set FC_TEST_KEEP", "set FC_TEST_NODE", "unset FC_TEST_LEFT_BY_A_JOB",
    ]  # fmt: skip

    putenv_calls.clear()
    _streams.set_environ(base, {"FC_TEST_NODE": "n3", "FC_TEST_EXEC": "e1"})  # the next job of the chain
    assert putenv_calls == ["set FC_TEST_NODE"]
    putenv_calls.clear()
    _streams.set_environ(base, {"FC_TEST_NODE": "n3", "FC_TEST_EXEC": "e1"})
    assert putenv_calls == []

    _streams.set_environ(base)
    assert _streams.environ_data() == base and c_getenv("FC_TEST_NODE") is None


def test_set_environ_refuses_a_value_that_is_not_a_string_and_changes_nothing(
    saved_environ: dict[object, object],
) -> None:
    base = _streams.environ_data().copy()
    with pytest.raises(TypeError, match="FC_TEST_BAD"):
        _streams.set_environ(base, {"FC_TEST_OK": "1", "FC_TEST_BAD": 3})  # type: ignore[dict-item]
    assert _streams.environ_data() == base


def test_set_environ_keeps_undecodable_bytes(saved_environ: dict[object, object]) -> None:
    os.environb[b"FC_TEST_RAW"] = b"\xff\xfe"  # not UTF-8: os.environ holds it surrogate-escaped
    base = _streams.environ_data().copy()
    _streams.set_environ(base, {"FC_TEST_TEXT": "h\u00e9"})
    assert os.environb[b"FC_TEST_RAW"] == b"\xff\xfe"
    assert os.environ["FC_TEST_TEXT"] == "h\u00e9" and os.environb[b"FC_TEST_TEXT"] == "h\u00e9".encode()


def test_the_entrypoint_reads_flyte_and_flytecore_variables_only(saved_environ: dict[object, object]) -> None:
    os.environ.update(
        {"FLYTE_INTERNAL_EXECUTION_ID": "e1", "_F_PRJ": "p", "FLYTECORE_DEFAULT_IMAGE": "img", "NOT_FLYTE": "x"}
    )
    variables = _flyte_variables()
    assert variables["FLYTE_INTERNAL_EXECUTION_ID"] == "e1"
    assert variables["_F_PRJ"] == "p" and variables["FLYTECORE_DEFAULT_IMAGE"] == "img"
    assert "NOT_FLYTE" not in variables and "PATH" not in variables


def test_job_environ_changes_only_what_two_consecutive_jobs_set_differently(
    saved_environ: dict[object, object], putenv_calls: list[str]
) -> None:
    os.environ["FC_TEST_KEEP"] = "base"
    base = _streams.environ_data().copy()
    environ = _streams.JobEnviron(base)
    environ.enter({"FC_TEST_NODE": "n1", "FC_TEST_EXEC": "e1", "FC_TEST_KEEP": "job 1"})
    assert os.environ["FC_TEST_KEEP"] == c_getenv("FC_TEST_KEEP") == "job 1"
    assert environ.variables() == {k: os.environ[k] for k in os.environ}

    putenv_calls.clear()
    environ.enter({"FC_TEST_NODE": "n2", "FC_TEST_EXEC": "e1"})  # the chain's next job
    assert sorted(putenv_calls) == ["set FC_TEST_KEEP", "set FC_TEST_NODE"]  # KEEP: back to the base's
    assert os.environ["FC_TEST_KEEP"] == c_getenv("FC_TEST_KEEP") == "base"
    assert os.environ["FC_TEST_NODE"] == c_getenv("FC_TEST_NODE") == "n2"
    assert environ.variables() == {k: os.environ[k] for k in os.environ}

    putenv_calls.clear()
    environ.enter({"FC_TEST_NODE": "n3"})
    assert sorted(putenv_calls) == ["set FC_TEST_NODE", "unset FC_TEST_EXEC"]
    assert "FC_TEST_EXEC" not in os.environ and c_getenv("FC_TEST_EXEC") is None

    # A job that changed the environment itself: the next one still gets exactly base + its own.
    os.environ["FC_TEST_LEFT_BY_A_JOB"] = "x"
    os.environ["FC_TEST_KEEP"] = "changed by a job"
    environ.enter({"FC_TEST_NODE": "n4"})
    assert "FC_TEST_LEFT_BY_A_JOB" not in os.environ and c_getenv("FC_TEST_LEFT_BY_A_JOB") is None
    assert os.environ["FC_TEST_KEEP"] == "base" and os.environ["FC_TEST_NODE"] == "n4"
    assert environ.variables() == {k: os.environ[k] for k in os.environ}

    with pytest.raises(TypeError, match="FC_TEST_BAD"):
        environ.enter({"FC_TEST_BAD": 3})  # type: ignore[dict-item]
    assert os.environ["FC_TEST_NODE"] == "n4"  # nothing changed


def test_the_entrypoint_reads_a_warm_worker_s_job_variables_from_the_hand_off(
    saved_environ: dict[object, object],
) -> None:
    os.environ["FLYTE_INTERNAL_EXECUTION_ID"] = "from os.environ"
    _handoff.begin({}, None, {"FLYTE_INTERNAL_EXECUTION_ID": "handed", "_F_PRJ": "p", "NOT_FLYTE": "x"})
    try:
        assert _flyte_variables() == {"FLYTE_INTERNAL_EXECUTION_ID": "handed", "_F_PRJ": "p"}
    finally:
        _handoff.end()
    assert _flyte_variables()["FLYTE_INTERNAL_EXECUTION_ID"] == "from os.environ"
