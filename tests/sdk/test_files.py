"""FlyteFile, FlyteDirectory and the file access layer, through a local raw output prefix and
through an fsspec ``memory://`` prefix standing in for an object store."""

from __future__ import annotations

import dataclasses
import os
import pathlib
import typing
import uuid
from collections.abc import Iterator
from typing import Any

import fsspec
import pytest

from flytecore.errors import TypeTransformerError
from flytecore.plugin import StorageBackend, hookimpl, make_plugin_host, use_host
from flytecore.sdk.data import FileAccess, current_file_access, using_file_access
from flytecore.sdk.type_engine import TypeEngine, builtin_transformers
from flytecore.sdk.types import FlyteDirectory, FlyteFile
from flytecore.spec.literals import LiteralMap
from flytecore.spec.types import BlobDimensionality, BlobType, LiteralType


@pytest.fixture
def engine() -> TypeEngine:
    return TypeEngine(builtin_transformers())


@pytest.fixture
def local_fa(tmp_path: pathlib.Path) -> Iterator[FileAccess]:
    with using_file_access(FileAccess(tmp_path / "raw", tmp_path / "sandbox")) as fa:
        yield fa


@pytest.fixture
def memory_fa(tmp_path: pathlib.Path) -> Iterator[FileAccess]:
    prefix = f"memory://raw-{uuid.uuid4().hex}"
    with using_file_access(FileAccess(prefix, tmp_path / "sandbox")) as fa:
        yield fa
    fsspec.filesystem("memory").rm(prefix, recursive=True)


@pytest.fixture
def source_file(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "work" / "data.csv"
    path.parent.mkdir()
    path.write_text("a,b\n1,2\n")
    return path


@pytest.fixture
def source_dir(tmp_path: pathlib.Path) -> pathlib.Path:
    root = tmp_path / "work" / "tree"
    (root / "sub").mkdir(parents=True)
    (root / "top.txt").write_text("top")
    (root / "sub" / "leaf.txt").write_text("leaf")
    return root


def tree(root: str | os.PathLike[str]) -> dict[str, str]:
    result = {}
    for base, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(base, name)
            result[os.path.relpath(path, root).replace(os.sep, "/")] = pathlib.Path(path).read_text()
    return result


# --- the file access layer --------------------------------------------------------------------


def test_is_remote() -> None:
    assert not FileAccess.is_remote("/tmp/x")
    assert not FileAccess.is_remote("relative/x")
    assert not FileAccess.is_remote("file:///tmp/x")
    assert FileAccess.is_remote("s3://bucket/key")
    assert FileAccess.is_remote("memory://x")


def test_random_paths(tmp_path: pathlib.Path) -> None:
    fa = FileAccess(tmp_path / "raw", tmp_path / "sandbox")
    remote = fa.random_remote_path("a.txt")
    assert remote.startswith(str(tmp_path / "raw") + os.sep) and remote.endswith(os.sep + "a.txt")
    assert fa.random_remote_path("a.txt") != remote
    assert fa.random_local_path("b").startswith(str(tmp_path / "sandbox") + os.sep)
    memory = FileAccess("memory://bucket/raw", tmp_path / "sandbox")
    assert memory.random_remote_path("c.bin").startswith("memory://bucket/raw/")
    assert memory.random_remote_path("c.bin").endswith("/c.bin")


def test_current_file_access_default_and_swap(tmp_path: pathlib.Path) -> None:
    default = current_file_access()
    assert os.path.isdir(default.raw_output_prefix) and os.path.isdir(default.local_sandbox)
    assert current_file_access() is default
    mine = FileAccess(tmp_path / "raw")
    with using_file_access(mine):
        assert current_file_access() is mine
    assert current_file_access() is default


def test_put_and_get_folder_through_memory(memory_fa: FileAccess, source_dir: pathlib.Path, tmp_path: pathlib.Path) -> None:
    remote = memory_fa.random_remote_path()
    memory_fa.put(source_dir, remote, recursive=True)
    assert memory_fa.isdir(remote)
    copy = memory_fa.get(remote, tmp_path / "copy", recursive=True)
    assert tree(copy) == {"top.txt": "top", "sub/leaf.txt": "leaf"}


def test_filesystem_uses_the_storage_options_of_the_plugin_host(tmp_path: pathlib.Path) -> None:
    seen: list[str] = []

    class MemoryStorage:
        @hookimpl
        def flytecore_register_storage(self, register: Any) -> None:
            register.register(
                StorageBackend(protocol="memory", storage_options=lambda url: seen.append(url) or {"marker": 1})
            )

    host = make_plugin_host(entry_points=False, extra_plugins=[("memstore", MemoryStorage())])
    fa = FileAccess("memory://opts", tmp_path)
    with use_host(host):
        fs = fa.filesystem("memory://opts/x")
    assert seen == ["memory://opts/x"]
    assert fs.storage_options == {"marker": 1}
    # Without the plugin, fsspec's defaults apply.
    with use_host(make_plugin_host(entry_points=False)):
        assert fa.filesystem("memory://opts/x").storage_options == {}


# --- FlyteFile objects ------------------------------------------------------------------------


def test_formats() -> None:
    assert FlyteFile["csv"].extension() == "csv"
    assert FlyteFile["csv"] is FlyteFile[typing.TypeVar("csv")]
    assert FlyteFile[".csv"] is FlyteFile["csv"]
    assert FlyteFile[""] is FlyteFile and FlyteFile.extension() == ""
    assert issubclass(FlyteFile["csv"], FlyteFile)
    assert FlyteDirectory["parquet"].extension() == "parquet"
    with pytest.raises(TypeError, match="str or a TypeVar"):
        FlyteFile[3]


def test_equality_and_str(source_file: pathlib.Path) -> None:
    assert FlyteFile(source_file) == FlyteFile(str(source_file))
    assert FlyteFile(source_file) == str(source_file)
    assert FlyteFile(source_file) != FlyteFile("/elsewhere")
    assert FlyteFile["csv"](source_file) != FlyteFile(source_file)
    assert str(FlyteFile(source_file)) == str(source_file)
    assert os.fspath(FlyteFile(source_file)) == str(source_file)
    assert len({FlyteFile("/a"), FlyteFile("/a")}) == 1


def test_downloader_runs_once_on_first_use(tmp_path: pathlib.Path) -> None:
    calls = []
    target = tmp_path / "f.txt"

    def fetch() -> None:
        calls.append(1)
        target.write_text("x")

    ff = FlyteFile(target, downloader=fetch)
    assert not ff.downloaded and not target.exists()
    with open(ff) as f:
        assert f.read() == "x"
    assert ff.download() == str(target)
    assert calls == [1] and ff.downloaded


# --- FlyteFile through the type engine ----------------------------------------------------------


def test_file_literal_type(engine: TypeEngine) -> None:
    assert engine.to_literal_type(FlyteFile) == LiteralType(blob=BlobType())
    assert engine.to_literal_type(FlyteFile["csv"]) == LiteralType(blob=BlobType(format="csv"))
    assert engine.to_literal_type(os.PathLike).blob == BlobType()
    directory = engine.to_literal_type(FlyteDirectory["parquet"]).blob
    assert directory == BlobType(format="parquet", dimensionality=BlobDimensionality.MULTIPART)


def test_file_uploads_to_a_local_prefix(engine: TypeEngine, local_fa: FileAccess, source_file: pathlib.Path) -> None:
    literal = engine.to_literal(FlyteFile(source_file), FlyteFile["csv"])
    blob = literal.scalar.blob
    assert blob.metadata.type == BlobType(format="csv")
    assert blob.uri.startswith(local_fa.raw_output_prefix + os.sep) and blob.uri.endswith("data.csv")
    assert blob.uri != str(source_file) and pathlib.Path(blob.uri).read_text() == "a,b\n1,2\n"
    value = engine.to_python_value(literal, FlyteFile["csv"])
    assert isinstance(value, FlyteFile["csv"]) and value.path == blob.uri
    assert pathlib.Path(value).read_text() == "a,b\n1,2\n"


@pytest.mark.parametrize("as_value", [str, pathlib.Path], ids=["str", "Path"])
def test_str_and_pathlike_are_accepted_for_a_file(
    engine: TypeEngine, local_fa: FileAccess, source_file: pathlib.Path, as_value: Any
) -> None:
    literal = engine.to_literal(as_value(source_file), FlyteFile)
    assert pathlib.Path(literal.scalar.blob.uri).read_text() == "a,b\n1,2\n"
    assert literal.scalar.blob.uri != str(source_file)


def test_pathlike_declared_type(engine: TypeEngine, local_fa: FileAccess, source_file: pathlib.Path) -> None:
    literal = engine.to_literal(source_file, os.PathLike)
    value = engine.to_python_value(literal, os.PathLike)
    assert isinstance(value, FlyteFile) and pathlib.Path(value).read_text() == "a,b\n1,2\n"


def test_missing_or_wrong_file_is_an_error(engine: TypeEngine, local_fa: FileAccess, source_dir: pathlib.Path) -> None:
    with pytest.raises(TypeTransformerError, match=r"input 'f': expected FlyteFile, got str '/no/such\.txt'.*not an existing local file"):
        engine.to_literal("/no/such.txt", FlyteFile, name="f")
    with pytest.raises(TypeTransformerError, match="not an existing local file"):
        engine.to_literal(FlyteFile(source_dir), FlyteFile)
    with pytest.raises(TypeTransformerError, match="expected FlyteFile, got int 3"):
        engine.to_literal(3, FlyteFile)
    with pytest.raises(TypeTransformerError, match="expected FlyteFile, got FlyteDirectory"):
        engine.to_literal(FlyteDirectory(source_dir), FlyteFile)


def test_remote_uris_are_kept(engine: TypeEngine, local_fa: FileAccess) -> None:
    literal = engine.to_literal("s3://bucket/key/data.csv", FlyteFile)
    assert literal.scalar.blob.uri == "s3://bucket/key/data.csv"
    assert not os.path.exists(local_fa.raw_output_prefix)  # nothing was uploaded
    value = engine.to_python_value(literal, FlyteFile)
    assert value.remote_source == "s3://bucket/key/data.csv" and not value.downloaded


def test_remote_path_false_and_explicit_destination(
    engine: TypeEngine, local_fa: FileAccess, source_file: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    kept = engine.to_literal(FlyteFile(source_file, remote_path=False), FlyteFile)
    assert kept.scalar.blob.uri == str(source_file)
    destination = str(tmp_path / "chosen" / "out.csv")
    placed = engine.to_literal(FlyteFile(source_file, remote_path=destination), FlyteFile)
    assert placed.scalar.blob.uri == destination and pathlib.Path(destination).read_text() == "a,b\n1,2\n"


def test_file_through_a_memory_prefix_downloads_lazily(
    engine: TypeEngine, memory_fa: FileAccess, source_file: pathlib.Path
) -> None:
    literal = engine.to_literal(FlyteFile(source_file), FlyteFile)
    uri = literal.scalar.blob.uri
    assert uri.startswith(memory_fa.raw_output_prefix + "/") and uri.endswith("/data.csv")
    value = engine.to_python_value(literal, FlyteFile)
    assert value.remote_source == uri and not value.downloaded and not os.path.exists(value.path)
    with value.open("r") as f:  # streams from the store, no download
        assert f.read() == "a,b\n1,2\n"
    assert not value.downloaded
    assert value.path.startswith(memory_fa.local_sandbox)
    assert pathlib.Path(value).read_text() == "a,b\n1,2\n"
    assert value.downloaded
    # Passing an input on as an output makes no second copy.
    assert engine.to_literal(value, FlyteFile).scalar.blob.uri == uri


def test_new_remote_file_is_written_in_place(engine: TypeEngine, memory_fa: FileAccess) -> None:
    ff = FlyteFile.new_remote_file("report.txt")
    assert ff.path.startswith(memory_fa.raw_output_prefix) and ff.path.endswith("/report.txt")
    with ff.open("w") as f:
        f.write("written remotely")
    literal = engine.to_literal(ff, FlyteFile)
    assert literal.scalar.blob.uri == ff.path
    assert pathlib.Path(engine.to_python_value(literal, FlyteFile).download()).read_text() == "written remotely"


def test_new_remote_file_in_a_local_run_is_not_copied(engine: TypeEngine, local_fa: FileAccess) -> None:
    ff = FlyteFile.new_remote_file()
    with ff.open("wb") as f:
        f.write(b"bytes")
    assert engine.to_literal(ff, FlyteFile).scalar.blob.uri == ff.path


def test_file_literal_through_protobuf(engine: TypeEngine, memory_fa: FileAccess, source_file: pathlib.Path) -> None:
    idl = pytest.importorskip("flytecore.spec.idl", reason="the flyteidl bridge is not built yet")
    literal = engine.to_literal(FlyteFile(source_file), FlyteFile["csv"])
    back = idl.literal_map_from_bytes(idl.literal_map_to_bytes(LiteralMap(literals={"f": literal}))).literals["f"]
    assert back == literal
    assert pathlib.Path(engine.to_python_value(back, FlyteFile["csv"])).read_text() == "a,b\n1,2\n"


# --- FlyteDirectory through the type engine -------------------------------------------------------


def test_directory_uploads_to_a_local_prefix(engine: TypeEngine, local_fa: FileAccess, source_dir: pathlib.Path) -> None:
    literal = engine.to_literal(FlyteDirectory(source_dir), FlyteDirectory)
    blob = literal.scalar.blob
    assert blob.metadata.type.dimensionality == BlobDimensionality.MULTIPART
    assert blob.uri.startswith(local_fa.raw_output_prefix) and blob.uri != str(source_dir)
    value = engine.to_python_value(literal, FlyteDirectory)
    assert tree(value) == {"top.txt": "top", "sub/leaf.txt": "leaf"}
    assert sorted(rel for _base, rel in value.crawl()) == ["sub/leaf.txt", "top.txt"]
    entries = FlyteDirectory.listdir(value)
    assert [type(e).__name__ for e in entries] == ["FlyteDirectory", "FlyteFile"]
    assert pathlib.Path(entries[1]).read_text() == "top"


def test_str_is_accepted_for_a_directory(engine: TypeEngine, local_fa: FileAccess, source_dir: pathlib.Path) -> None:
    literal = engine.to_literal(str(source_dir), FlyteDirectory)
    assert tree(literal.scalar.blob.uri) == {"top.txt": "top", "sub/leaf.txt": "leaf"}
    with pytest.raises(TypeTransformerError, match="not an existing local folder"):
        engine.to_literal(str(source_dir / "top.txt"), FlyteDirectory)


def test_directory_through_a_memory_prefix(engine: TypeEngine, memory_fa: FileAccess, source_dir: pathlib.Path) -> None:
    literal = engine.to_literal(FlyteDirectory(source_dir), FlyteDirectory)
    uri = literal.scalar.blob.uri
    assert uri.startswith(memory_fa.raw_output_prefix + "/")
    value = engine.to_python_value(literal, FlyteDirectory)
    assert value.remote_source == uri and not value.downloaded
    assert sorted(rel for _base, rel in value.crawl()) == ["sub/leaf.txt", "top.txt"]
    entries = FlyteDirectory.listdir(value)
    assert [e.remote_source for e in entries] == [f"{uri}/sub", f"{uri}/top.txt"]
    assert isinstance(entries[0], FlyteDirectory) and pathlib.Path(entries[1]).read_text() == "top"
    assert not value.downloaded
    assert tree(value.download()) == {"top.txt": "top", "sub/leaf.txt": "leaf"}
    assert engine.to_literal(value, FlyteDirectory).scalar.blob.uri == uri


def test_new_file_and_dir_inside_a_directory(memory_fa: FileAccess) -> None:
    folder = FlyteDirectory.new_remote("out")
    inner = folder.new_file("a.txt")
    assert inner.path == folder.path + "/a.txt"
    with inner.open("w") as f:
        f.write("in folder")
    assert folder.new_dir("d").path == folder.path + "/d"
    assert [e.remote_source for e in FlyteDirectory.listdir(folder)] == [inner.path]


# --- files inside other types -----------------------------------------------------------------


@dataclasses.dataclass
class Report:
    title: str
    data: FlyteFile
    extra: FlyteDirectory | None = None


def test_dataclass_with_files(
    engine: TypeEngine, memory_fa: FileAccess, source_file: pathlib.Path, source_dir: pathlib.Path
) -> None:
    schema = engine.to_literal_type(Report).metadata
    assert schema["properties"]["data"]["properties"] == {"path": {"type": "string"}}
    literal = engine.to_literal(Report("r", FlyteFile(source_file), FlyteDirectory(source_dir)), Report)
    generic = literal.scalar.generic
    assert generic["title"] == "r" and generic["data"]["path"].startswith(memory_fa.raw_output_prefix)
    assert generic["extra"]["path"].startswith(memory_fa.raw_output_prefix)
    value = engine.to_python_value(literal, Report)
    assert value.data.remote_source == generic["data"]["path"] and not value.data.downloaded
    assert pathlib.Path(value.data).read_text() == "a,b\n1,2\n"
    assert tree(value.extra) == {"top.txt": "top", "sub/leaf.txt": "leaf"}


def test_optional_file_and_list_of_files(engine: TypeEngine, local_fa: FileAccess, source_file: pathlib.Path) -> None:
    literal = engine.to_literal(FlyteFile(source_file), FlyteFile | None)
    assert literal.scalar.union.type.structure.tag == "FlyteFilePath"
    assert pathlib.Path(engine.to_python_value(literal, FlyteFile | None)).read_text() == "a,b\n1,2\n"
    assert engine.to_python_value(engine.to_literal(None, FlyteFile | None), FlyteFile | None) is None
    files = engine.to_python_value(engine.to_literal([str(source_file)] * 2, list[FlyteFile]), list[FlyteFile])
    assert len({f.path for f in files}) == 2 and all(pathlib.Path(f).read_text() == "a,b\n1,2\n" for f in files)


def test_guess_file_types(engine: TypeEngine) -> None:
    assert engine.guess_python_type(engine.to_literal_type(FlyteFile["csv"])) is FlyteFile["csv"]
    assert engine.guess_python_type(engine.to_literal_type(FlyteFile)) is FlyteFile
    assert engine.guess_python_type(engine.to_literal_type(FlyteDirectory)) is FlyteDirectory


def test_write_bytes_makes_the_folder_replaces_whole_files_and_leaves_nothing_behind(tmp_path: pathlib.Path) -> None:
    from flytecore.sdk.data import write_bytes

    target = tmp_path / "new" / "folder" / "outputs.pb"
    write_bytes(target, b"first")  # the folder's first file: the folder is made
    write_bytes(str(target), b"second")
    assert target.read_bytes() == b"second"
    with pytest.raises(TypeError):
        write_bytes(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"second"  # a failed write changes nothing
    assert sorted(p.name for p in target.parent.iterdir()) == ["outputs.pb"]  # no temporary file left
