"""GetVersion: which flytecore build the control plane runs (flytectl and the console show it)."""

from __future__ import annotations

from flyteidl.admin import version_pb2

from flytecore.admin.service.base import ServiceBase

__all__ = ["VersionService"]


def _build() -> tuple[str, str]:
    """The installed distribution's version and, for a wheel built from a git checkout, nothing
    more: flytecore records no build hash, so ``Build`` names the distribution instead."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("flytecore"), "flytecore"
    except PackageNotFoundError:  # running from a source tree that was never installed
        from flytecore import __version__

        return __version__, "flytecore (source tree)"


class VersionService(ServiceBase):
    """AdminService's GetVersion."""

    def get_version(self, request: version_pb2.GetVersionRequest | None = None) -> version_pb2.GetVersionResponse:
        """The control plane's version: ``Version`` is flytecore's, ``BuildTime`` when this admin
        started (there is no separate build step to date)."""
        number, build = _build()
        return version_pb2.GetVersionResponse(
            control_plane_version=version_pb2.Version(Build=build, Version=number, BuildTime=self.started_at)
        )
