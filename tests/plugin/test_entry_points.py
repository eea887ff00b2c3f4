"""Discovery through the ``flytecore.plugins`` entry point group.

Two levels:

- in-process: a distribution's metadata (``*.dist-info``) written into a folder put on
  ``sys.path``, which is all ``importlib.metadata`` and stevedore look at;
- ``slow``: a real plugin distribution (pyproject + package) built and installed by pip into a
  throwaway virtual environment, then a host made in a subprocess of that environment. No
  network: pip runs with ``--no-index`` and the distribution brings its own tiny build backend.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import logging
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import stevedore
import stevedore._cache

import flytecore
from flytecore.errors import PluginError
from flytecore.plugin import ENTRY_POINT_GROUP, PluginHost, PluginInfo, make_plugin_host

PLUGIN_MODULE = """
from flytecore.plugin import StorageBackend, TaskType, hookimpl


@hookimpl
def flytecore_register_task_types(register):
    register.register(TaskType(name="{task_type}"))


@hookimpl
def flytecore_register_storage(register):
    register.register(StorageBackend(protocol="{task_type}-store"))
"""

# --- in-process discovery -------------------------------------------------------------------------

FakeDistribution = Callable[..., Path]


@pytest.fixture
def fake_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDistribution]:
    """Write installed distributions into a folder on ``sys.path``; forget them afterwards.

    The site-packages folders leave ``sys.path`` for the test, so the plugins installed in this
    environment (and their import errors) cannot change what the tests see; the modules the
    tests need are imported already. stevedore reads entry points once per process
    (``ExtensionManager.ENTRY_POINT_CACHE``) and keeps a cache on disk; both are replaced, so it
    sees these distributions, reads nothing stale and leaves no file in the user's cache folder.
    """
    site = tmp_path / "site"
    site.mkdir()
    hermetic = [p for p in sys.path if not p.endswith(("site-packages", "dist-packages"))]
    monkeypatch.setattr(sys, "path", [str(site), *hermetic])
    importlib.invalidate_caches()
    monkeypatch.setattr(stevedore.ExtensionManager, "ENTRY_POINT_CACHE", {})
    monkeypatch.setattr(stevedore._cache, "_c", stevedore._cache.Cache(cache_dir=str(tmp_path / "ep-cache")))
    before = set(sys.modules)

    def write(
        name: str,
        version: str,
        entry_points: dict[str, str],
        files: dict[str, str],
        *,
        top_level: bool = True,
    ) -> Path:
        """One distribution: ``files`` (path -> source) and a dist-info declaring
        ``entry_points`` (name -> ``module[:attr]``) in the flytecore group."""
        for relative, source in files.items():
            path = site / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(source))
        info = site / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        lines = "".join(f"{ep_name} = {value}\n" for ep_name, value in entry_points.items())
        (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{lines}")
        if top_level:
            tops = sorted({Path(relative).parts[0].removesuffix(".py") for relative in files})
            (info / "top_level.txt").write_text("".join(f"{top}\n" for top in tops))
        return info

    yield write
    for module in set(sys.modules) - before:
        del sys.modules[module]


def plugin_info(host: PluginHost, name: str) -> PluginInfo:
    """The one plugin named ``name``."""
    found = [info for info in host.plugins if info.name == name]
    assert len(found) == 1, found
    return found[0]


def test_entry_point_plugin_is_discovered_with_its_distribution(fake_distribution: FakeDistribution) -> None:
    fake_distribution(
        "flyte-plugin-fake",
        "0.3.1",
        {"fake": "flyte_plugin_fake.plugin"},
        {
            "flyte_plugin_fake/__init__.py": "",
            "flyte_plugin_fake/plugin.py": PLUGIN_MODULE.format(task_type="fake-task"),
        },
    )
    host = make_plugin_host(disable=["core_types", "core_compiler"])
    assert host.task_types.owner("fake-task") == "fake"
    assert host.storage.owner("fake-task-store") == "fake"
    info = plugin_info(host, "fake")
    assert (info.distribution, info.version, info.module) == (
        "flyte-plugin-fake",
        "0.3.1",
        "flyte_plugin_fake.plugin",
    )
    assert info.loaded and not info.builtin
    assert info.hooks == ["flytecore_register_storage", "flytecore_register_task_types"]
    assert info.contributions == {"task types": ["fake-task"], "storage": ["fake-task-store"]}
    # Entry-point plugins come after the built-ins.
    names = [i.name for i in host.plugins]
    assert names.index("fake") > names.index("local_storage")


def test_distribution_is_found_without_top_level_txt(fake_distribution: FakeDistribution) -> None:
    """Editable installs by hatchling/pdm write no top_level.txt and a RECORD naming a .pth only."""
    fake_distribution(
        "flyte-plugin-editable",
        "2.0.0",
        {"editable": "flyte_plugin_editable"},
        {"flyte_plugin_editable/__init__.py": PLUGIN_MODULE.format(task_type="editable-task")},
        top_level=False,
    )
    host = make_plugin_host(disable=["core_types", "core_compiler"])
    info = plugin_info(host, "editable")
    assert (info.distribution, info.version) == ("flyte-plugin-editable", "2.0.0")


def test_entry_point_may_name_an_object_in_a_module(fake_distribution: FakeDistribution) -> None:
    fake_distribution(
        "flyte-plugin-object",
        "1.0",
        {"object": "flyte_plugin_object:PLUGIN"},
        {
            "flyte_plugin_object.py": """
                from flytecore.plugin import TaskType, hookimpl

                class Plugin:
                    @hookimpl
                    def flytecore_register_task_types(self, register):
                        register.register(TaskType(name="object-task"))

                PLUGIN = Plugin()
            """
        },
    )
    host = make_plugin_host(disable=["core_types", "core_compiler"])
    assert host.task_types.owner("object-task") == "object"
    assert plugin_info(host, "object").module == "flyte_plugin_object:PLUGIN"


BROKEN_FILES = {
    "flyte_plugin_mixed/__init__.py": "",
    "flyte_plugin_mixed/good.py": PLUGIN_MODULE.format(task_type="good-task"),
    "flyte_plugin_mixed/broken.py": """
        import pathlib
        pathlib.Path(__file__).with_suffix(".imported").touch()
        raise ImportError("broken on purpose")
    """,
    "flyte_plugin_mixed/missing_dependency.py": "import flyte_plugin_no_such_dependency\n",
    "flyte_plugin_mixed/asserts.py": "assert False, 'needs a GPU'\n",
}
BROKEN_ENTRY_POINTS = {
    "good": "flyte_plugin_mixed.good",
    "broken": "flyte_plugin_mixed.broken",
    "missing": "flyte_plugin_mixed.missing_dependency",
    "asserts": "flyte_plugin_mixed.asserts",
}


def test_plugins_that_fail_to_import_are_reported_and_skipped(
    fake_distribution: FakeDistribution, caplog: pytest.LogCaptureFixture
) -> None:
    fake_distribution("flyte-plugin-mixed", "0.1", BROKEN_ENTRY_POINTS, BROKEN_FILES)
    with caplog.at_level(logging.INFO, logger="flytecore.plugin.manager"):
        host = make_plugin_host(disable=["core_types", "core_compiler"])
    assert host.task_types.owner("good-task") == "good"
    assert plugin_info(host, "good").loaded
    expected_errors = {
        "broken": "ImportError: broken on purpose",
        "missing": "ModuleNotFoundError: No module named 'flyte_plugin_no_such_dependency'",
        "asserts": "AssertionError: needs a GPU",
    }
    for name, error in expected_errors.items():
        info = plugin_info(host, name)
        assert (info.error, info.loaded, info.hooks) == (error, False, [])
        assert (info.distribution, info.version, info.module) == (
            "flyte-plugin-mixed",
            "0.1",
            BROKEN_ENTRY_POINTS[name],
        )
    # Tiered like opentelemetry: a missing dependency is worth an INFO line, a broken plugin an ERROR.
    levels = {
        r.getMessage().split("'")[1]: r.levelno for r in caplog.records if "not loaded" in r.getMessage()
    }
    assert levels == {"broken": logging.ERROR, "missing": logging.INFO, "asserts": logging.ERROR}


def test_disabled_entry_points_are_not_even_imported(
    fake_distribution: FakeDistribution, tmp_path: Path
) -> None:
    fake_distribution("flyte-plugin-mixed", "0.1", BROKEN_ENTRY_POINTS, BROKEN_FILES)
    host = make_plugin_host(disable=["core_types", "core_compiler", "broken", "missing", "asserts"])
    assert [i.name for i in host.plugins if not i.builtin] == ["good"]
    assert all(info.loaded for info in host.plugins)
    assert not (tmp_path / "site" / "flyte_plugin_mixed" / "broken.imported").exists()


def test_disable_env_variable_applies_to_entry_points(
    fake_distribution: FakeDistribution, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_distribution("flyte-plugin-mixed", "0.1", BROKEN_ENTRY_POINTS, BROKEN_FILES)
    monkeypatch.setenv("FLYTECORE_DISABLE_PLUGINS", "broken,missing,asserts,core_types,core_compiler")
    host = make_plugin_host()
    assert [i.name for i in host.plugins if not i.builtin] == ["good"]
    monkeypatch.setenv("FLYTECORE_DISABLE_PLUGINS", "*,core_types,core_compiler")
    host = make_plugin_host()
    assert "good-task" not in host.task_types and "python-task" in host.task_types
    assert [i.name for i in host.plugins if not i.builtin] == []


def test_strict_mode_fails_on_the_first_plugin_that_does_not_import(
    fake_distribution: FakeDistribution,
) -> None:
    fake_distribution("flyte-plugin-mixed", "0.1", BROKEN_ENTRY_POINTS, BROKEN_FILES)
    with pytest.raises(
        PluginError,
        match=r"plugin '(broken|missing|asserts)' \(flyte_plugin_mixed\.\w+\) failed to load: \w+Error: ",
    ):
        make_plugin_host(strict=True)
    # With the broken ones switched off, strict mode is happy.
    host = make_plugin_host(strict=True, disable=["broken", "missing", "asserts"])
    assert "good-task" in host.task_types


def test_entry_point_name_used_by_two_distributions_keeps_the_first(
    fake_distribution: FakeDistribution,
) -> None:
    fake_distribution(
        "flyte-plugin-one",
        "1.0",
        {"same": "flyte_plugin_one"},
        {"flyte_plugin_one/__init__.py": PLUGIN_MODULE.format(task_type="one-task")},
    )
    fake_distribution(
        "flyte-plugin-two",
        "1.0",
        {"same": "flyte_plugin_two"},
        {"flyte_plugin_two/__init__.py": PLUGIN_MODULE.format(task_type="two-task")},
    )
    host = make_plugin_host(disable=["core_types", "core_compiler"])
    same = [info for info in host.plugins if info.name == "same"]
    assert [info.loaded for info in same] == [True, False]
    first, second = same
    assert host.task_types.owner(f"{first.distribution.removeprefix('flyte-plugin-')}-task") == "same"
    assert second.error is not None
    assert f"plugin name 'same' is already taken by {first.module} ({first.distribution})" in second.error
    assert len([name for name in host.task_types if name in ("one-task", "two-task")]) == 1


# --- a real distribution installed by pip into a throwaway virtual environment ------------------------

BUILD_BACKEND = '''
"""A PEP 517 backend just big enough for this test: pure-Python wheels, no dependencies."""

import base64
import hashlib
import pathlib
import tomllib
import zipfile


def get_requires_for_build_wheel(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    root = pathlib.Path(__file__).parent
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    name, version = project["name"], project["version"]
    stem = f"{name.replace('-', '_')}-{version}"
    dist_info = f"{stem}.dist-info"
    files = {
        str(path.relative_to(root)): path.read_bytes()
        for package in root.glob("*/__init__.py")
        for path in package.parent.rglob("*.py")
    }
    entry_points = "".join(
        f"[{group}]\\n" + "".join(f"{key} = {value}\\n" for key, value in points.items())
        for group, points in project.get("entry-points", {}).items()
    )
    files[f"{dist_info}/METADATA"] = f"Metadata-Version: 2.1\\nName: {name}\\nVersion: {version}\\n".encode()
    files[f"{dist_info}/WHEEL"] = b"Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
    files[f"{dist_info}/entry_points.txt"] = entry_points.encode()
    record = "".join(
        f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}\\n"
        for path, data in files.items()
    )
    files[f"{dist_info}/RECORD"] = (record + f"{dist_info}/RECORD,,\\n").encode()
    wheel_name = f"{stem}-py3-none-any.whl"
    with zipfile.ZipFile(pathlib.Path(wheel_directory) / wheel_name, "w") as wheel:
        for path, data in files.items():
            wheel.writestr(path, data)
    return wheel_name
'''

THROWAWAY_PYPROJECT = """
[build-system]
requires = []
build-backend = "build_backend"
backend-path = ["."]

[project]
name = "flyte-plugin-throwaway"
version = "4.5.6"

[project.entry-points."flytecore.plugins"]
throwaway = "flyte_plugin_throwaway.plugin"
broken = "flyte_plugin_throwaway.broken"
"""

REPORT_SCRIPT = """
import json
import flytecore
from flytecore.errors import PluginError
from flytecore.plugin import make_plugin_host

try:
    host = make_plugin_host()  # from FLYTECORE_DISABLE_PLUGINS and FLYTECORE_STRICT_PLUGINS
except PluginError as exc:
    print(json.dumps({"plugin_error": str(exc)}))
    raise SystemExit(0)
print(json.dumps({
    "flytecore": flytecore.__file__,
    "task_types": {name: host.task_types.owner(name) for name in host.task_types},
    "plugins": {
        i.name: {"distribution": i.distribution, "version": i.version, "error": i.error, "hooks": i.hooks}
        for i in host.plugins
    },
}))
"""


def make_throwaway_distribution(root: Path) -> Path:
    """A plugin distribution with a working entry point and one whose module fails to import."""
    dist = root / "flyte-plugin-throwaway"
    package = dist / "flyte_plugin_throwaway"
    package.mkdir(parents=True)
    (dist / "pyproject.toml").write_text(THROWAWAY_PYPROJECT)
    (dist / "build_backend.py").write_text(BUILD_BACKEND)
    (package / "__init__.py").write_text("")
    (package / "plugin.py").write_text(PLUGIN_MODULE.format(task_type="throwaway-task"))
    (package / "broken.py").write_text('raise ImportError("the throwaway plugin is broken on purpose")\n')
    return dist


def make_venv_seeing_this_environment(root: Path) -> Path:
    """A virtual environment whose ``.pth`` adds this environment's site folders (``addsitedir``
    also runs their ``.pth`` files, e.g. flytecore's editable-install finder), so flytecore,
    pip and stevedore are there without installing anything. Returns its python."""
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()
    site_dirs = [p for p in sys.path if p.endswith(("site-packages", "dist-packages")) and os.path.isdir(p)]
    lines = [f"import site; site.addsitedir({p!r})" for p in site_dirs]
    (Path(purelib) / "_outer_environment.pth").write_text("\n".join(lines) + "\n")
    return python


@pytest.mark.slow
def test_pip_installed_plugin_distribution_is_discovered(tmp_path: Path) -> None:
    started = time.monotonic()
    dist = make_throwaway_distribution(tmp_path)
    python = make_venv_seeing_this_environment(tmp_path)
    env = {
        **os.environ,
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INPUT": "1",
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
    env.pop("FLYTECORE_DISABLE_PLUGINS", None)
    env.pop("FLYTECORE_STRICT_PLUGINS", None)
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", str(dist)],
        capture_output=True,
        text=True,
        env=env,
        timeout=90,
    )
    assert install.returncode == 0, install.stdout + install.stderr

    installed_here = sorted({ep.name for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)})

    def report(disable: str, strict: str = "") -> dict[str, Any]:
        """What a host in the venv found, with these environment variables."""
        # Not under test here: the built-ins that import the type engine and the compiler, and
        # the plugins installed in this environment (the venv sees them too).
        off = ",".join(["core_types", "core_compiler", *installed_here, disable])
        variables = {"FLYTECORE_DISABLE_PLUGINS": off, "FLYTECORE_STRICT_PLUGINS": strict}
        result = subprocess.run(
            [str(python), "-c", REPORT_SCRIPT],
            capture_output=True,
            text=True,
            env={**env, **variables},
            cwd=tmp_path,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        found: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
        return found

    found = report(disable="")
    assert found["flytecore"] == flytecore.__file__, "the venv must use this flytecore, not a copy"
    assert found["plugins"]["throwaway"] == {
        "distribution": "flyte-plugin-throwaway",
        "version": "4.5.6",
        "error": None,
        "hooks": ["flytecore_register_storage", "flytecore_register_task_types"],
    }
    assert found["plugins"]["broken"] == {
        "distribution": "flyte-plugin-throwaway",
        "version": "4.5.6",
        "error": "ImportError: the throwaway plugin is broken on purpose",
        "hooks": [],
    }
    assert found["task_types"]["throwaway-task"] == "throwaway"
    assert found["task_types"]["python-task"] == "python_task"

    hidden = report(disable="broken")
    assert "broken" not in hidden["plugins"]
    assert hidden["task_types"]["throwaway-task"] == "throwaway"
    assert report(disable="*")["task_types"].get("throwaway-task") is None

    assert report(disable="", strict="1") == {
        "plugin_error": "plugin 'broken' (flyte_plugin_throwaway.broken) failed to load: "
        "ImportError: the throwaway plugin is broken on purpose"
    }
    assert report(disable="broken", strict="1")["task_types"]["throwaway-task"] == "throwaway"
    assert time.monotonic() - started < 60, "building the throwaway environment is too slow"
