"""``pip install .`` gives a working tool: the wheel carries the reader, and rag-ask answers from any folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from .conftest import ROOT, SEEDS

pytestmark = pytest.mark.slow


def test_the_wheel_installs_and_answers_outside_the_repository(tmp_path):
    wheels, target, work = tmp_path / "wheels", tmp_path / "site", tmp_path / "elsewhere"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-w", str(wheels)], check=True)
    (wheel,) = wheels.glob("rag_extractive-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)], check=True)
    assert (target / "rag" / "models" / "reader" / "model.safetensors").is_file()
    assert (target / "bin" / "rag-ask").is_file() and (target / "bin" / "rag-ui").is_file()
    shutil.copytree(SEEDS, work / "docs")
    # -S: no site hooks, so the editable install of this checkout cannot shadow the wheel's copy
    env = {**os.environ, "PYTHONPATH": f"{target}{os.pathsep}{sysconfig.get_paths()['purelib']}"}
    env.pop("RAG_READER_DIR", None)
    run = [sys.executable, "-S", "-m", "rag.ask", "--docs", "docs", "--index", "index", "--json"]
    done = subprocess.run([*run, "who supplies GPUs in the deal?"], cwd=work, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["passages"] and (work / "index" / "CURRENT").is_file()
    where = subprocess.run([sys.executable, "-S", "-c", "import rag; print(rag.__file__)"], cwd=work, env=env,
                           capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert Path(where.strip()).is_relative_to(target)
    version = subprocess.run([sys.executable, "-S", "-m", "rag.ask", "--version"], cwd=work, env=env,
                             capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert "rag-extractive" in version
