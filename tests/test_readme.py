"""The README's examples are real: each shown line of the rag.ask example and the JSON example comes out."""

from __future__ import annotations

import importlib
import importlib.util
import json
import re

from rag.commands.ask import main as ask_main

from .conftest import ROOT, SEEDS

README = (ROOT / "README.md").read_text(encoding="utf-8")


def example(after: str) -> str:
    """The body of the first fenced block that contains ``after``."""
    for block in re.findall(r"```[a-z]*\n(.*?)```", README, re.S):
        if after in block:
            return block
    raise AssertionError(f"no README block with {after!r}")


def test_quick_start_example_output(tmp_path, capsys):
    block = example("$ rag ask")
    question = re.search(r'\$ rag ask "([^"]+)"', block).group(1)
    shown = block.split(f'"{question}"\n', 1)[1].splitlines()
    assert ask_main(["--docs", str(SEEDS), "--index", str(tmp_path / "ix"), question]) == 0
    out = capsys.readouterr().out.splitlines()
    for line in shown:
        if line.strip() not in ("...", ""):
            assert line in out, f"README line not in the output: {line!r}"


def test_json_example(tmp_path, capsys):
    block = example('{"question"')
    shown = json.loads(block.replace('"text": "..."', '"text": null'))
    assert ask_main(["--docs", str(SEEDS), "--index", str(tmp_path / "ix"), "--json", shown["question"]]) == 0
    got = json.loads(capsys.readouterr().out)
    assert set(got) >= set(shown) and got["answer"] == shown["answer"] | {"score": got["answer"]["score"]}
    assert round(got["answer"]["score"], 2) == shown["answer"]["score"]
    top = shown["passages"][0]
    assert {k: got["passages"][0][k] for k in ("source", "start", "end", "page")} == {
        k: top[k] for k in ("source", "start", "end", "page")
    }
    assert round(got["passages"][0]["score"], 3) == top["score"]


def test_command_table_is_generated_from_help():
    """The README's command table is what scripts/readme_commands.py makes from each command's --help."""
    spec = importlib.util.spec_from_file_location("readme_commands", ROOT / "scripts" / "readme_commands.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.rendered(README) == README, "run: python scripts/readme_commands.py"
    commands = importlib.import_module("rag.commands")
    for name in commands.SUBCOMMANDS:  # a row for every subcommand `rag --help` lists, with every flag
        parser = commands.subcommand(name).parser()
        flags = {s for a in parser._actions for s in a.option_strings if s.startswith("--") and s != "--help"}
        row = next(line for line in README.splitlines() if line.startswith(f"| `rag {name} "))
        assert all(flag in row for flag in flags), (name, flags)
