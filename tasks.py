#!/usr/bin/env python3
"""Set-up and everyday tasks, needing nothing but python3.

    python3 tasks.py start   # create .venv with pinned dependencies, then run the product
    python3 tasks.py test    # same set-up, then lint and the whole test suite (what CI runs)
    python3 tasks.py test --fast   # the fast lane: leaves out tests marked slow (browser, wheel, processes)
    python3 tasks.py setup   # only the set-up

The venv is (re)installed when requirements.lock, requirements-ray.lock or pyproject.toml changes;
otherwise set-up takes a second. The venv has the optional Ray extra, so the tests include the cluster tests.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
LOCK = ROOT / "requirements.lock"
RAY_LOCK = ROOT / "requirements-ray.lock"  # the optional [ray] extra: CI runs the cluster tests
STAMP = VENV / ".installed-lock-sha256"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"


def sh(*cmd: str | Path, **kw) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT, **kw)


def setup() -> None:
    inputs = (LOCK, RAY_LOCK, ROOT / "pyproject.toml")
    want = hashlib.sha256(b"".join(path.read_bytes() for path in inputs)).hexdigest()
    if PY.exists() and STAMP.exists() and STAMP.read_text().strip() == want:
        return
    if not PY.exists():
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    sh(PY, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", LOCK, "-r", RAY_LOCK)
    sh(
        PY,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-deps",
        "--no-build-isolation",
        "-e",
        ".",
    )
    STAMP.write_text(want + "\n")


def start(args: list[str]) -> None:
    """Serve the browser chat on http://127.0.0.1:7860; it builds or updates the index first when needed."""
    try:
        sh(PY, "-m", "rag", "ui", *args)
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)


def test(args: list[str]) -> None:
    sh(PY, "-m", "ruff", "check", ".")
    if "--fast" in args:
        args = [a for a in args if a != "--fast"] + ["-m", "not slow"]
    sh(PY, "-m", "pytest", *args)


def main() -> int:
    task, args = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else ("", [])
    tasks = {"setup": lambda a: None, "start": start, "test": test}
    if task not in tasks:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    os.environ.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False")
    try:
        setup()
        tasks[task](args)
    except subprocess.CalledProcessError as exc:
        return exc.returncode or 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
