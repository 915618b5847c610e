"""The package layout holds what the README's code map says: stages import only earlier stages,
and training and evaluation are never imported when answering."""

from __future__ import annotations

import ast
import subprocess
import sys

from .conftest import ROOT

# In the order data flows; a module may import from its own stage, an earlier one, or the core.
CORE = ("rag", "rag.config", "rag.errors", "rag.types", "rag.text", "rag.onnx_export")
STAGES = (
    "rag.documents",
    "rag.chunking",
    "rag.index",
    "rag.retrieval",
    "rag.reader",
    "rag.pipeline",
    "rag.cluster",
    "rag.cli",
    "rag.ask",
    "rag.eval",
    "rag.training",
)
RUNTIME = STAGES[: STAGES.index("rag.ask") + 1]


def stage_of(module: str) -> str | None:
    """The stage a module belongs to; a stage's command (``python -m rag.index``) sits with the commands."""
    stage = next((s for s in STAGES if module == s or module.startswith(s + ".")), None)
    if module.endswith(".__main__") and stage in RUNTIME:
        return "rag.ask"
    return stage


def imports() -> dict[str, set[str]]:
    """Each rag module and the rag modules it imports (at top level or inside functions)."""
    out: dict[str, set[str]] = {}
    for path in (ROOT / "rag").rglob("*.py"):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("rag"):
                found.add(node.module)
                found.update(f"{node.module}.{a.name}" for a in node.names if stage_of(f"{node.module}.{a.name}"))
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.startswith("rag"))
        out[module] = found
    return out


def test_stages_import_only_earlier_stages():
    wrong = []
    for module, targets in imports().items():
        here = stage_of(module)
        for target in targets:
            there = stage_of(target)
            if target in CORE or there is None or here is None:
                continue
            if STAGES.index(there) > STAGES.index(here):
                wrong.append(f"{module} -> {target}")
    assert not wrong, wrong


def test_runtime_never_imports_training_or_evaluation():
    wrong = [
        f"{m} -> {t}"
        for m, targets in imports().items()
        if stage_of(m) in RUNTIME
        for t in targets
        if stage_of(t) in ("rag.eval", "rag.training")
    ]
    assert not wrong, wrong
    code = (
        "import sys, rag.ask, rag.pipeline, rag.index.build, rag.reader.neural, rag.reader.baseline, ui.core; "
        "print(sorted(m for m in sys.modules if m.startswith(('rag.eval', 'rag.training'))))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"


def test_every_stage_is_a_folder_with_a_docstring():
    for stage in STAGES:
        folder = ROOT / stage.replace(".", "/")
        init = folder / "__init__.py"
        if folder.is_dir():
            assert ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))), stage
        else:
            assert folder.with_suffix(".py").is_file(), stage
