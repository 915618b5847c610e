"""The package layout holds what the README's code map says: stages import only earlier stages,
and training and evaluation are never imported when answering."""

from __future__ import annotations

import ast
import subprocess
import sys

from .conftest import ROOT

# In the order data flows; a module may import from its own stage, an earlier one, or the core.
# The core imports nothing but the core. The commands (rag.commands) sit above every stage; the old
# spellings ``python -m rag.ask``/``rag.index``/``rag.eval`` start them by name and import nothing.
CORE = (
    "rag",
    "rag.__main__",
    "rag.ask",
    "rag.config",
    "rag.errors",
    "rag.followup",
    "rag.onnx_export",
    "rag.settings",
    "rag.text",
    "rag.types",
)
STAGES = (
    "rag.documents",
    "rag.chunking",
    "rag.index",
    "rag.retrieval",
    "rag.reader",
    "rag.pipeline",
    "rag.cluster",
    "rag.eval",
    "rag.training",
    "rag.commands",
)
RUNTIME = STAGES[: STAGES.index("rag.cluster") + 1]


def stage_of(module: str) -> str | None:
    """The stage a module belongs to (None: the core, or not a rag module)."""
    return next((s for s in STAGES if module == s or module.startswith(s + ".")), None)


def is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports() -> dict[str, set[str]]:
    """Each rag module and the rag modules it imports (at top level or inside functions)."""
    out: dict[str, set[str]] = {}
    for path in (ROOT / "rag").rglob("*.py"):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("rag"):
                named = {f"{node.module}.{a.name}" for a in node.names}
                submodules = {m for m in named if is_module(m)}  # from rag.documents import ocr: the module ocr
                found.update(submodules or {node.module})
                if len(submodules) < len(named):
                    found.add(node.module)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.startswith("rag"))
        out[module] = found
    return out


def test_every_module_is_in_a_stage_or_the_core_and_the_core_imports_only_the_core():
    found = imports()
    assert [m for m in found if m not in CORE and stage_of(m) is None] == []
    wrong = [f"{m} -> {t}" for m in CORE if m in found for t in found[m] if t not in CORE and stage_of(t)]
    assert not wrong, wrong


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
    runtime = (
        "import rag.commands, rag.commands.ask, rag.commands.index, rag.commands.chat, rag.pipeline, "
        "rag.index.build, rag.reader.neural, rag.reader.baseline, ui.core"
    )
    assert loaded_after(runtime, ("rag.eval", "rag.training")) == []


def test_no_import_cycles():
    """Not even inside a stage, and counting imports inside functions: each module can be read
    knowing only what it imports."""
    graph = imports()
    cycles = [sorted(c) for c in strongly_connected(graph) if len(c) > 1]
    assert cycles == []


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's strongly connected components of ``graph`` (edges to modules outside it ignored)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in graph:
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            found.append(component)

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_commands_load_only_what_they_run():
    """``rag ask`` loads no Gradio and no evaluation code: only the subcommand asked for is imported."""
    started = "import rag.commands as c; c.subcommand('ask'); c.subcommand('index')"
    assert loaded_after(started, ("gradio", "rag.eval", "rag.training", "rag.commands.evaluate", "ui")) == []


def loaded_after(code: str, prefixes: tuple[str, ...]) -> list[str]:
    """The modules starting with one of ``prefixes`` that a fresh interpreter has loaded after ``code``."""
    shown = f"{code}\nimport sys; print(sorted(m for m in sys.modules if m.startswith({prefixes!r})))"
    loaded = subprocess.run([sys.executable, "-c", shown], cwd=ROOT, capture_output=True, text=True, check=True)
    return ast.literal_eval(loaded.stdout)


def test_every_stage_is_a_folder_with_a_docstring():
    for stage in STAGES:
        folder = ROOT / stage.replace(".", "/")
        init = folder / "__init__.py"
        if folder.is_dir():
            assert ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))), stage
        else:
            assert folder.with_suffix(".py").is_file(), stage
