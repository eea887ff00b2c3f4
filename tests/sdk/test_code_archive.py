"""``flytecore-execute --code-uri``: code archives downloaded, extracted once per content under
``$FLYTECORE_HOME/code/<sha256>``, imported, swapped in warm processes, and unsafe ones refused."""

from __future__ import annotations

import hashlib
import io
import sys
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from flytecore.sdk.entrypoint import main
from tests.sdk import entrypoint_tasks as tasks
from tests.sdk.entrypoint_harness import (
    NON_RECOVERABLE,
    SETTINGS,
    SYSTEM,
    Attempt,
)


def make_archive(path: Path, files: dict[str, str], links: dict[str, str] | None = None) -> str:
    """A .tar.gz with ``files`` (member name -> text) and symlinks (member name -> target)."""
    with tarfile.open(path, "w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return str(path)


def version_module(version: str) -> str:
    return f"from flytecore import task\n\n\n@task\ndef version() -> str:\n    return {version!r}\n"


@pytest.fixture
def code_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh $FLYTECORE_HOME; the process imports from no code archive afterwards."""
    from flytecore.sdk import code_archive

    monkeypatch.setenv("FLYTECORE_HOME", str(tmp_path / "home"))
    yield tmp_path / "home" / "code"
    code_archive.activate(None)


def run_code(tmp_path: Path, code_uri: str | None, module: str, attribute: str, label: str) -> Attempt:
    folder = tmp_path / label
    folder.mkdir()
    (folder / "inputs.pb").write_bytes(b"")  # an empty LiteralMap
    code = ["--code-uri", code_uri] if code_uri else []
    args = [*code, "--inputs", str(folder / "inputs.pb"), "--output-prefix", str(folder / "out"), "--",
            "task-module", module, "task-name", attribute]
    return Attempt(main(args, environ={}), str(folder / "out"), "")


def test_code_uri_is_serialized_before_the_inputs() -> None:
    args = tasks.add.to_template(attrs.evolve(SETTINGS, code_uri="s3://b/code/abc.tar.gz")).container.args
    assert args[:4] == ("flytecore-execute", "--code-uri", "s3://b/code/abc.tar.gz", "--inputs")
    assert "--code-uri" not in tasks.add.to_template(SETTINGS).container.args


def test_a_code_archive_is_extracted_once_per_content_and_imported(tmp_path: Path, code_home: Path) -> None:
    module = f"fastcode_{uuid.uuid4().hex[:8]}"
    v1 = make_archive(tmp_path / "v1.tar.gz", {f"{module}.py": version_module("v1")})
    digest = hashlib.sha256(Path(v1).read_bytes()).hexdigest()

    first = run_code(tmp_path, v1, module, "version", "first")
    assert first.outputs().literals["o0"].scalar.primitive.string_value == "v1"
    folder = code_home / digest
    assert (folder / f"{module}.py").is_file() and sys.path[0] == str(folder.resolve())
    imported = sys.modules[module]
    stamp = folder.stat().st_mtime_ns

    # The same content again (as a file:// URL this time): nothing extracted, the module reused.
    again = run_code(tmp_path, f"file://{v1}", module, "version", "again")
    assert again.outputs().literals["o0"].scalar.primitive.string_value == "v1"
    assert sys.modules[module] is imported and folder.stat().st_mtime_ns == stamp
    assert [p.name for p in code_home.iterdir()] == [digest]

    # New code under the same module name: the stale module is dropped and the new one imported.
    v2 = make_archive(tmp_path / "v2.tar.gz", {f"{module}.py": version_module("v2")})
    second = run_code(tmp_path, v2, module, "version", "second")
    assert second.outputs().literals["o0"].scalar.primitive.string_value == "v2"
    assert sys.modules[module] is not imported and str(folder.resolve()) not in sys.path

    # A task without a code archive: the archive's folder and modules are gone.
    plain = run_code(tmp_path, None, "tests.sdk.entrypoint_tasks", "shortcut", "plain")
    assert plain.code == 0 and module not in sys.modules
    assert not any(str(code_home) in p for p in sys.path)


@pytest.mark.parametrize(
    ("files", "links", "expected"),
    [
        ({"../escape.py": "x = 1"}, None, "member '../escape.py' has a '..' component"),
        ({"pkg/../../escape.py": "x = 1"}, None, "has a '..' component"),
        ({"/tmp/flytecore-abs-escape.py": "x = 1"}, None, "has an absolute path"),
        ({"ok.py": "x = 1"}, {"pkg/link": "../../escape.py"}, "member 'pkg/link' links outside the archive"),
    ],
    ids=["dotdot", "nested-dotdot", "absolute", "symlink"],
)
def test_an_archive_with_unsafe_members_is_refused(
    tmp_path: Path, code_home: Path, files: dict[str, str], links: dict[str, str] | None, expected: str
) -> None:
    archive = make_archive(tmp_path / "evil.tar.gz", files, links)
    error = run_code(tmp_path, archive, "ok", "t", "evil").error()
    assert (error.code, error.origin, error.kind) == ("SYSTEM:CodeArchive", SYSTEM, NON_RECOVERABLE)
    assert expected in error.message and archive in error.message
    assert not (tmp_path / "escape.py").exists() and not Path("/tmp/flytecore-abs-escape.py").exists()
    assert not any(p.is_dir() for p in code_home.iterdir())  # nothing was extracted


def test_a_missing_or_broken_archive_is_a_system_error(tmp_path: Path, code_home: Path) -> None:
    missing = run_code(tmp_path, str(tmp_path / "nope.tar.gz"), "m", "t", "missing").error()
    assert missing.code == "SYSTEM:CodeArchive" and "no such file" in missing.message
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tar file at all")
    broken = run_code(tmp_path, str(junk), "m", "t", "broken").error()
    assert broken.code == "SYSTEM:CodeArchive" and "not a readable tar archive" in broken.message
