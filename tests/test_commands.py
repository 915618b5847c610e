"""One command, ``rag`` (#25): ``rag --help`` lists the subcommands, every old spelling still starts the
same subcommand with the same flags, and ``rag index --json`` says what was built."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rag.commands import SUBCOMMANDS, main, subcommand
from rag.commands.index import main as index_main

from .conftest import ROOT, SEEDS

BAD = {  # a bad setting for each subcommand: one line naming the flag, exit 2, before any model loads
    "ask": ["--top-k", "0", "a question?"],
    "index": ["--chunk-tokens", "4"],
    "eval": ["--gold", "eval/gold.jsonl", "--top-k", "0"],
    "ui": ["--read-context", "-5"],
}
OLD_SPELLINGS = {  # the old way to start each subcommand: python -m MODULE, and a script
    "ask": ("rag.ask", "rag-ask"),
    "index": ("rag.index", "rag-index"),
    "eval": ("rag.eval", "rag-eval"),
    "ui": ("ui.app", "rag-ui"),
}


def flags(help_text: str) -> set[str]:
    return set(re.findall(r"--[a-z][a-z0-9-]*", help_text.split("\n\n")[0]))  # the usage paragraph


def test_rag_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    shown = capsys.readouterr().out
    assert done.value.code == 0 and all(re.search(rf"^\s+{name}\s+\S", shown, re.M) for name in SUBCOMMANDS)
    assert main([]) == 2 and "COMMAND" in capsys.readouterr().err


def test_every_subcommand_shares_the_common_flags():
    common = {"--docs", "--index", "--json", "--embedding", "--threads", "--version"}
    answering = {"--top-k", "--retriever", "--reader", "--reader-model", "--threshold", "--read-context"}
    for name in SUBCOMMANDS:
        own = flags(subcommand(name).parser().format_help())
        assert common <= own, name
        assert name == "index" or answering <= own, name


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SUBCOMMANDS))
def test_old_spellings_start_the_same_subcommand(name):
    new = subprocess.run([sys.executable, "-m", "rag", name, "--help"], cwd=ROOT, capture_output=True, text=True)
    assert new.returncode == 0 and new.stdout.startswith(f"usage: rag {name} ")
    module, script = OLD_SPELLINGS[name]
    old = subprocess.run([sys.executable, "-m", module, "--help"], cwd=ROOT, capture_output=True, text=True)
    assert old.returncode == 0 and old.stdout.startswith(f"usage: python -m {module} ")
    assert flags(old.stdout) == flags(new.stdout)
    installed = Path(sys.executable).parent / script
    if installed.exists() or shutil.which(script):
        by_script = subprocess.run([str(installed), "--help"], capture_output=True, text=True)
        assert by_script.returncode == 0 and flags(by_script.stdout) == flags(new.stdout)
    bad = subprocess.run([sys.executable, "-m", module, *BAD[name], "--docs", str(SEEDS)], cwd=ROOT,
                         capture_output=True, text=True)  # fmt: skip
    assert bad.returncode == 2 and bad.stderr.startswith("error: --") and bad.stderr.count("\n") == 1


def test_index_json_reports_what_was_built(tmp_path, capsys):
    argv = ["--docs", str(SEEDS), "--index", str(tmp_path / "ix"), "--json"]
    assert index_main(argv) == 0
    built = json.loads(capsys.readouterr().out)
    files = sorted(p.name for p in SEEDS.iterdir() if p.is_file())
    assert sorted(built["added"]) == files and built["chunks"] > 0 and built["embedded_chunks"] == built["chunks"]
    assert (built["chunk_tokens"], built["chunk_overlap"]) == (128, 24) and built["index"] == str(tmp_path / "ix")
    assert index_main(argv) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["added"] == [] and sorted(again["unchanged"]) == files and again["embedded_chunks"] == 0


def test_a_bad_setting_is_one_line_naming_the_flag(tmp_path, capsys):
    assert index_main(["--docs", str(SEEDS), "--index", str(tmp_path / "ix"), "--chunk-tokens", "4"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "--chunk-tokens" in err
    assert not (tmp_path / "ix").exists()  # checked before anything is written


@pytest.mark.slow
def test_ui_json_says_where_the_page_is_once_it_answers(tmp_path):
    import socket
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "rag", "ui", "--json", "--docs", str(SEEDS), "--index", str(tmp_path / "ix"),
           "--port", str(port), "--reader", "baseline"]  # fmt: skip
    server = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        shown = json.loads(server.stdout.readline())
        assert shown["url"] == f"http://127.0.0.1:{port}/" and shown["reader"] == "baseline"
        with urllib.request.urlopen(shown["url"], timeout=30) as page:
            assert page.status == 200
    finally:
        server.terminate()
        server.wait(timeout=30)
