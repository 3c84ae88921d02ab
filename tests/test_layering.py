"""The package's shape: every import (inside functions too) goes to the same layer or a lower one, with no cycle;
command modules are thin; files and functions stay small."""

import ast
import os

from tests.helpers import ROOT

PACKAGE = os.path.join(ROOT, "nmt")
# Lowest first. A module belongs to the layer of its first name under nmt; `__main__` modules are commands.
LAYERS = (
    ("utils",),
    ("config",),
    ("data",),
    ("model",),
    ("checkpoints",),
    ("decode",),
    ("training", "parallel"),
    ("run",),
    ("serve",),
    ("tools", "compress"),
    (
        "cli",
        "cli_search",
        "supervisor",
        "train",
        "translate",
        "evaluate",
        "score",
        "release",
        "bench",
        "memory",
        "distill",
        "__main__",
    ),
)
COMMANDS = LAYERS[-1]
MAX_FILE_LINES, MAX_FUNCTION_LINES = 300, 60


def modules() -> dict[str, str]:
    out = {}
    for folder, _, files in os.walk(PACKAGE):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(folder, f)
                name = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                out[name[: -len(".__init__")] if name.endswith(".__init__") else name] = path
    return out


def layer(module: str) -> int:
    parts = module.split(".")
    key = "__main__" if parts[-1] == "__main__" else (parts[1] if len(parts) > 1 else "")
    return next(i for i, names in enumerate(LAYERS) if key in names)


def imports(path: str, module: str, known: dict) -> set[str]:
    """The nmt modules that `module` imports anywhere in its file (a name imported from a package counts as its
    submodule when there is one)."""
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            names = [f"{base}.{a.name}" for a in node.names] + [base]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module and not module.startswith(name + "."):
                found.add(name)
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    return {m: imports(p, m, known) for m, p in known.items()}


def test_every_module_has_a_layer():
    for m in modules():
        if m != "nmt":
            layer(m)


def test_no_upward_import():
    upward = [
        f"{m} (layer {layer(m)}) imports {t} (layer {layer(t)})"
        for m, targets in graph().items()
        if m != "nmt"
        for t in targets
        if t != "nmt" and layer(t) > layer(m)
    ]
    assert not upward, "\n".join(upward)


def test_no_import_cycle():
    g = graph()
    seen, on_path, cycles = set(), [], []

    def visit(m):
        if m in on_path:
            cycles.append(on_path[on_path.index(m) :] + [m])
            return
        if m in seen:
            return
        seen.add(m)
        on_path.append(m)
        for t in sorted(g.get(m, ())):
            visit(t)
        on_path.pop()

    for m in sorted(g):
        visit(m)
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_translation_and_the_parallel_methods_need_no_trainer():
    """Loading a run to translate reads no training code, and the parallel methods receive the step they run."""
    leaning = [
        f"{m} imports {t}"
        for m, targets in graph().items()
        if m.startswith(("nmt.run", "nmt.parallel"))
        for t in targets
        if t.startswith("nmt.training")
    ]
    assert not leaning, "\n".join(leaning)


SHARED_BY_COMMANDS = ("nmt.cli", "nmt.cli_search", "nmt.supervisor")


def test_commands_use_no_other_command_but_the_shared_options():
    g = graph()
    for m, targets in g.items():
        if m != "nmt" and layer(m) == len(LAYERS) - 1 and m not in SHARED_BY_COMMANDS:
            others = [t for t in targets if t != "nmt" and layer(t) == len(LAYERS) - 1 and t not in SHARED_BY_COMMANDS]
            assert not others, f"{m} imports {others}"


def test_files_and_functions_stay_small():
    too_long = []
    for path in modules().values():
        text = open(path).read()
        if text.count("\n") > MAX_FILE_LINES:
            too_long.append(f"{path}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    too_long.append(f"{path}:{node.lineno} {node.name}: {n} lines")
    assert not too_long, "\n".join(too_long)


def test_the_layer_test_sees_an_upward_import(tmp_path):
    """The checker itself: a lower module importing a higher one, inside a function, is found."""
    path = tmp_path / "config.py"
    path.write_text("def f():\n    from nmt.training import trainer\n")
    found = imports(str(path), "nmt.config", {"nmt.config": "", "nmt.training": "", "nmt.training.trainer": ""})
    assert "nmt.training.trainer" in found and layer("nmt.training.trainer") > layer("nmt.config")
