"""Options shared by the commands that talk to an admin (kept free of gRPC imports, so that
``flytecore --help`` stays fast)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

__all__ = ["DEFAULT_ADMIN", "ENV_ADMIN", "ENV_TOKEN", "admin_options", "scope_options"]

DEFAULT_ADMIN = "127.0.0.1:30080"
"""The sandbox's gRPC address (Flyte's sandbox port)."""
ENV_ADMIN = "FLYTECORE_ADMIN"
"""Environment variable with the admin's ``host:port``."""
ENV_TOKEN = "FLYTECORE_ADMIN_TOKEN"
"""Environment variable with a bearer token for the admin."""
DEFAULT_PROJECT = "flytesnacks"
DEFAULT_DOMAIN = "development"

F = TypeVar("F", bound=Callable[..., Any])


def admin_options(f: F) -> F:
    """Add ``--admin HOST:PORT`` and ``--token-file PATH`` (passed as ``admin`` and ``token_file``)."""
    f = click.option(
        "--token-file",
        default=None,
        metavar="PATH",
        help=f"A file holding the bearer token to send (its first token line).  [default: ${ENV_TOKEN}, else none]",
    )(f)
    f = click.option(
        "--admin",
        "admin",
        default=None,
        metavar="HOST:PORT",
        help=f"The admin's gRPC address.  [default: ${ENV_ADMIN}, else {DEFAULT_ADMIN}]",
    )(f)
    return f


def scope_options(f: F) -> F:
    """Add ``--project`` and ``--domain`` (Flyte sandbox's defaults)."""
    f = click.option("--domain", "-d", default=DEFAULT_DOMAIN, show_default=True, help="The domain.")(f)
    f = click.option("--project", "-p", default=DEFAULT_PROJECT, show_default=True, help="The project.")(f)
    return f
