"""AdminConfig: defaults, and settings refused at construction with a message naming them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import pytest

from flytecore.admin.config import AdminConfig, AdminConfigError
from flytecore.errors import FlyteCoreError


def test_inline_data_bytes_defaults_to_64_kib() -> None:
    assert AdminConfig(db_url="unused").inline_data_bytes == 65536


@pytest.mark.parametrize("value", [0, 1, 2 * 1024 * 1024, 10**9])
def test_inline_data_bytes_takes_zero_and_more(value: int) -> None:
    assert AdminConfig(db_url="unused", inline_data_bytes=value).inline_data_bytes == value


@pytest.mark.parametrize("value", [-1, -65536, 1.5, "64k", True, None])
def test_other_inline_data_bytes_are_a_config_error(value: object) -> None:
    with pytest.raises(AdminConfigError) as refused:
        AdminConfig(db_url="unused", inline_data_bytes=value)  # type: ignore[arg-type]
    assert str(refused.value) == (
        "AdminConfig.inline_data_bytes must be a whole number of bytes, 0 or more (0: always write "
        f"execution inputs and event data to storage), not {value!r}"
    )
    # Printed as a message by the command line (FlyteCoreError); a ValueError for Python callers.
    assert isinstance(refused.value, FlyteCoreError) and isinstance(refused.value, ValueError)
    with pytest.raises(AdminConfigError):  # changing a config later is checked too
        attrs.evolve(AdminConfig(db_url="unused"), inline_data_bytes=value)


def test_admin_serve_takes_the_setting_and_refuses_a_negative_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from flytecore.admin import config as config_module
    from flytecore.cli.main import main
    from tests.admin.test_auth import serve_args

    made: list[AdminConfig] = []

    def recording(**kwargs: Any) -> AdminConfig:
        made.append(AdminConfig(**kwargs))
        return made[-1]

    monkeypatch.setattr(config_module, "AdminConfig", recording)
    result = CliRunner().invoke(main, serve_args(tmp_path, "--inline-data-bytes", "0"))
    assert "Protocol not known: nosuchproto" in result.output  # it got as far as the storage
    assert [c.inline_data_bytes for c in made] == [0]
    result = CliRunner().invoke(main, serve_args(tmp_path, "--inline-data-bytes", "-1"))
    assert result.exit_code == 2
    assert "--inline-data-bytes" in result.output and "-1" in result.output
