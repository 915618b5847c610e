"""Joining a Ray cluster (or starting one in this process) for one command, and leaving it after.

An address where no Ray head answers (nothing listens, an HTTP server, a port that never answers) is one
line and exit 2 within 10 s, said before Ray is imported or anything built: ``ray.init`` itself would retry
for minutes and print C++ warnings, deaf to SIGTERM. Actors see the driver's ``RAG_*`` and offline
settings, so they load the same models the same way.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from types import ModuleType

from rag.errors import UsageError

LOCAL = "local"  # --ray local: a cluster started in this process, on this machine's CPUs
CONNECT_TIMEOUT_S = 10.0  # the whole address check: connecting and the head's first answer
HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"  # what a gRPC client sends first (RFC 9113, 3.4)
HTTP2_SETTINGS = bytes(9)[:3] + b"\x04" + bytes(5)  # an empty SETTINGS frame: length 0, type 4, flags 0, stream 0
SETTINGS_TYPE = 0x04
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
    """Raise ClusterUnreachable unless a Ray head answers at ``host:port`` within ``timeout`` seconds in all.

    Something listening is not enough: ``ray.init`` at an HTTP server or any other service retries for
    minutes in C++, where signals wait. A head's GCS is a gRPC server, so it answers the HTTP/2 opening
    (the client preface and an empty SETTINGS frame) with a SETTINGS frame of its own; anything else is
    refused here, in Python, where SIGTERM and Ctrl-C still work."""
    if address.startswith("ray://"):
        raise ClusterUnreachable(f"give the head's host:port, not a Ray Client address (ray://): {address}")
    target = host_port(address)
    if target is None:
        return
    deadline = time.monotonic() + timeout
    try:
        with socket.create_connection(target, timeout=timeout) as conn:
            conn.sendall(HTTP2_PREFACE + HTTP2_SETTINGS)
            first = _read_up_to(conn, len(HTTP2_SETTINGS), deadline)
    except TimeoutError:
        raise ClusterUnreachable(f"cannot reach the Ray cluster at {address} (no answer in {timeout:g} s)") from None
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise ClusterUnreachable(f"cannot reach the Ray cluster at {address} ({why})") from None
    if len(first) < len(HTTP2_SETTINGS) or first[3] != SETTINGS_TYPE:
        raise ClusterUnreachable(f"no Ray cluster at {address}: something else listens there (not Ray's gRPC head)")


def _read_up_to(conn: socket.socket, size: int, deadline: float) -> bytes:
    """Up to ``size`` bytes from ``conn`` (fewer if it closes), by ``deadline`` (else TimeoutError)."""
    data = b""
    while len(data) < size:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        conn.settimeout(left)
        block = conn.recv(size - len(data))
        if not block:
            break
        data += block
    return data


def passed_env() -> dict[str, str]:
    """The driver's settings that actors must share (model backend, cache, offline switches)."""
    return {k: v for k, v in os.environ.items() if k.startswith(PASSED_ENV)}


@contextlib.contextmanager
def cluster(address: str) -> Iterator[ModuleType]:
    """Ray, joined to the cluster at ``address`` (``local``: started here) for the ``with`` block.

    The address is checked first (``check_reachable``, bounded), before Ray is even imported. ``ray.init``
    installs a SIGTERM handler that only raises in Python, so a driver waiting in Ray's C++ would not stop;
    the process's own handling (by default: end at once) is put back as soon as it returns."""
    if address != LOCAL:
        check_reachable(address)
    ray = require_ray()
    options: dict = {"log_to_driver": False, "logging_level": logging.ERROR}
    options["runtime_env"] = {"env_vars": passed_env()}
    sigterm = signal.getsignal(signal.SIGTERM)
    try:
        if address == LOCAL:
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # offline: Ray's usage report stays unsent
            ray.init(address="local", include_dashboard=False, **options)  # "local": never $RAY_ADDRESS
        else:
            ray.init(address=address, **options)
    except (ConnectionError, TimeoutError, RuntimeError, ValueError) as exc:
        raise ClusterUnreachable(f"cannot join the Ray cluster at {address}: {str(exc).splitlines()[0]}") from None
    finally:
        if sigterm is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, sigterm)
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
