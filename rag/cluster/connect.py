"""Joining a Ray cluster (or starting one in this process) for one command, and leaving it after.

An address that cannot be reached is one line and exit 2, said before anything is built: ``ray.init``
itself would retry for minutes and print C++ warnings. Actors see the driver's ``RAG_*`` and offline
settings, so they load the same models the same way.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Iterator
from types import ModuleType

from rag.errors import UsageError

LOCAL = "local"  # --ray local: a cluster started in this process, on this machine's CPUs
CONNECT_TIMEOUT_S = 5.0
PASSED_ENV = ("RAG_", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TOKENIZERS_PARALLELISM")
INSTALL_HINT = "pip install 'rag-extractive[ray]'"


class ClusterUnreachable(UsageError):
    """The Ray cluster named on the command line cannot be reached (exit 2, nothing built)."""


def require_ray() -> ModuleType:
    """The ``ray`` module; a one-line usage error when the optional extra is not installed."""
    try:
        import ray
        import ray.data  # noqa: F401 - the extra is ray[data]; fail here, not in the middle of a build
    except ImportError as exc:
        raise UsageError(f"--ray needs Ray, which is not installed ({exc.name}): {INSTALL_HINT}") from None
    return ray


def host_port(address: str) -> tuple[str, int] | None:
    """(host, port) of a ``host:port`` address; None for other forms ray.init resolves itself ("auto")."""
    host, sep, port = address.rpartition(":")
    if not sep or "://" in address or not port.isdigit():
        return None
    return host.strip("[]") or "127.0.0.1", int(port)


def check_reachable(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Raise ClusterUnreachable unless something listens at the head's ``host:port``."""
    if address.startswith("ray://"):
        raise ClusterUnreachable(f"give the head's host:port, not a Ray Client address (ray://): {address}")
    target = host_port(address)
    if target is None:
        return
    try:
        with socket.create_connection(target, timeout=timeout):
            pass
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise ClusterUnreachable(f"cannot reach the Ray cluster at {address} ({why})") from None


def passed_env() -> dict[str, str]:
    """The driver's settings that actors must share (model backend, cache, offline switches)."""
    return {k: v for k, v in os.environ.items() if k.startswith(PASSED_ENV)}


@contextlib.contextmanager
def cluster(address: str) -> Iterator[ModuleType]:
    """Ray, joined to the cluster at ``address`` (``local``: started here) for the ``with`` block."""
    ray = require_ray()
    if address != LOCAL:
        check_reachable(address)
    options: dict = {"log_to_driver": False, "logging_level": logging.ERROR}
    options["runtime_env"] = {"env_vars": passed_env()}
    try:
        if address == LOCAL:
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # offline: Ray's usage report stays unsent
            ray.init(address="local", include_dashboard=False, **options)  # "local": never $RAY_ADDRESS
        else:
            ray.init(address=address, **options)
    except (ConnectionError, TimeoutError, RuntimeError, ValueError) as exc:
        raise ClusterUnreachable(f"cannot join the Ray cluster at {address}: {str(exc).splitlines()[0]}") from None
    quiet_data(ray)
    try:
        yield ray
    finally:
        ray.shutdown()


def quiet_data(ray: ModuleType) -> None:
    """Ray Data in file order, without progress bars or per-run INFO lines (stdout may be JSON lines)."""
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True
    context.enable_progress_bars = False
    for name in ("ray.data", "ray"):
        logging.getLogger(name).setLevel(logging.ERROR)


def pool_size(ray: ModuleType, requested: int | None) -> int:
    """Actors in a pool: ``requested``, else one per whole CPU of the cluster."""
    if requested is not None:
        return requested
    return max(1, int(ray.cluster_resources().get("CPU", 1)))
