"""The library's shape: no import circles between memlib's modules, no module reading another's private names,
one home for labels."""
import ast
from pathlib import Path

import memlib
from memlib import labels

PACKAGE = Path(memlib.__file__).parent


def _imports() -> dict[str, list[tuple[str, str]]]:
    """module -> [(imported module, name)] for every relative import inside memlib (``from .x import y``,
    ``from . import x``), wherever it stands (module level or inside a function)."""
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    out = {}
    for path in PACKAGE.glob("*.py"):
        found = []
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                for alias in node.names:
                    if node.module:
                        found.append((node.module.split(".")[0], alias.name))
                    elif alias.name in modules:
                        found.append((alias.name, ""))
        out[path.stem] = found
    return out


def test_no_import_circle_between_modules():
    graph = {m: {t for t, _ in found if t != "__init__"} for m, found in _imports().items() if m != "__init__"}
    state = {}

    def visit(m, path):
        state[m] = "open"
        for t in sorted(graph.get(m, ())):
            assert state.get(t) != "open", f"import circle: {' -> '.join(path + [t])}"
            if t not in state:
                visit(t, path + [t])
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert graph["probes"] and "training" in graph["sweep"]  # the scan sees imports at all


def test_no_module_imports_another_modules_private_names():
    private = [(m, t, name) for m, found in _imports().items() for t, name in found
               if name.startswith("_") and not name.startswith("__")]
    assert not private, private


class _Run:
    def __init__(self, config):
        self.config = config


def test_one_setting_label_for_tables_and_figures():
    run = _Run({"model": "smollm2-135m", "lr": 1e-4,
                "train": [{"text": "ab", "alphabet": "abcdefg", "entropy": 2.0, "family": "exponential"}]})
    assert labels.setting(run) == "smollm2-135m, lr 1e-4"
    assert labels.setting(run, strings=True) == "smollm2-135m, lr 1e-4, 7 letters, H=2.0"
    run.config["train"][0]["family"] = "uniform"
    assert labels.setting(run, strings=True) == "smollm2-135m, lr 1e-4, 7 letters, H=2.0 (uniform)"
    assert [labels.lr_label(x) for x in (1e-4, 5e-4, 2.5e-5, 1e-3)] == ["1e-4", "5e-4", "2.5e-5", "1e-3"]
