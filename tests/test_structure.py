"""The library's shape: two layers (a core that knows no finding, findings that import only the core), no import
circles between memlib's modules, no module reading another's private names, one home for labels."""
import ast
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import memlib
from memlib import labels

PACKAGE = Path(memlib.__file__).parent


def _imports(package: Path = PACKAGE) -> dict[str, list[tuple[str, str]]]:
    """room -> [(imported room, name)] for every import of memlib inside memlib (``from .x import y``,
    ``from . import x``, ``from ..x import y`` in a subpackage, ``from memlib.x import y``, ``import memlib.x``),
    wherever it stands (module level or inside a function). A room is a module of memlib, or a subpackage with all
    its modules; imports inside one room are left out."""
    rooms = {p.stem for p in package.glob("*.py")} | {p.name for p in package.iterdir() if (p / "__init__.py").exists()}
    out = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package).parts
        room = parts[0].removesuffix(".py")
        here = ["memlib", *parts[:-1]]  # the package the file is in
        found = []
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    target = here[:len(here) - node.level + 1] + (node.module.split(".") if node.module else [])
                elif (node.module or "").split(".")[0] == "memlib":
                    target = node.module.split(".")
                else:
                    continue
                for alias in node.names:
                    full = target if len(target) > 1 else target + ([alias.name] if alias.name in rooms else [])
                    found.append((full[1] if len(full) > 1 else "__init__", alias.name if len(target) > 1 else ""))
            elif isinstance(node, ast.Import):
                found += [(a.name.split(".")[1] if "." in a.name else "__init__", "") for a in node.names
                          if a.name.split(".")[0] == "memlib"]
        out.setdefault(room, []).extend(t for t in found if t[0] != room)
    return out


def layer_violations(package: Path = PACKAGE) -> list[str]:
    """What breaks the two layers of memlib (``memlib.CORE``, ``memlib.FINDINGS``, ``memlib.TOP``): a module in no
    layer, a core module importing anything but the core, a finding importing anything but the core and itself."""
    core, findings, top = set(memlib.CORE), set(memlib.FINDINGS.values()), set(memlib.TOP)
    graph = _imports(package)
    out = [f"{m}: in no layer (add it to memlib.CORE, memlib.FINDINGS or memlib.TOP)" for m in sorted(graph)
           if m not in core | findings | top]
    for m, found in sorted(graph.items()):
        allowed = core if m in core else core | {m} if m in findings else None
        if allowed is not None:
            out += [f"{m} -> {t}" + (f".{name}" if name else "") for t, name in found if t not in allowed]
    return out


def test_the_core_imports_no_finding_and_findings_import_only_the_core():
    assert layer_violations() == []
    assert set(memlib.FINDINGS.values()).isdisjoint(memlib.CORE) and len(memlib.FINDINGS) == 8


def test_a_planted_import_across_the_layers_is_caught(tmp_path):
    """The check can fail: a core module importing a finding inside a function, a finding importing another at
    the top, and a module in no layer, each planted in a copy of the package."""
    copy = tmp_path / "memlib"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    with open(copy / "sweep.py", "a") as f:
        f.write("\n\ndef planted():\n    from .phases import run_curves\n    return run_curves\n")
    with open(copy / "capacity.py", "a") as f:
        f.write("\nimport memlib.privacy  # noqa: E402\n")
    (copy / "stray.py").write_text("from . import stats\n")
    found = layer_violations(copy)
    assert "sweep -> phases.run_curves" in found and "capacity -> privacy" in found
    assert any(v.startswith("stray: in no layer") for v in found) and len(found) == 3


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
    assert "version" in graph["training"] and "__init__" not in {t for m in memlib.CORE for t in graph.get(m, ())}


def test_no_module_imports_another_modules_private_names():
    private = [(m, t, name) for m, found in _imports().items() for t, name in found
               if name.startswith("_") and not name.startswith("__")]
    assert not private, private


def test_one_setting_label_for_tables_and_figures():
    run = SimpleNamespace(config=SimpleNamespace(
        model="smollm2-135m", lr=1e-4, train=({"text": "ab", "alphabet": "abcdefg", "entropy": 2.0, "family": "exponential"},)))
    assert labels.setting(run) == "smollm2-135m, lr 1e-4"
    assert labels.setting(run, strings=True) == "smollm2-135m, lr 1e-4, 7 letters, H=2.0"
    run.config.train[0]["family"] = "uniform"
    assert labels.setting(run, strings=True) == "smollm2-135m, lr 1e-4, 7 letters, H=2.0 (uniform)"
    assert [labels.lr_label(x) for x in (1e-4, 5e-4, 2.5e-5, 1e-3)] == ["1e-4", "5e-4", "2.5e-5", "1e-3"]


def test_the_tests_read_memlib_through_public_names_only():
    """A test that reads a private name or attribute pins an implementation, not what the library promises (the
    standard library's own, such as ``os._exit``, excepted)."""
    found = []
    for f in (PACKAGE.parent / "tests").glob("*.py"):
        for n, line in enumerate(f.read_text().splitlines(), 1):
            code = line.split("#")[0]
            found += [(f.name, n, m) for m in re.findall(r"\b(?!os\b|self\b|sys\b)\w+\._[a-z]\w*", code)]
            found += [(f.name, n, m) for m in re.findall(r"from memlib[\w.]* import .*\b_[a-z]\w*", code)]
    assert not found, found


def test_every_module_does_one_job_in_at_most_500_lines():
    """The design's guide for a module's size: one that grows past it holds two jobs, and becomes two modules or a
    small package (the findings' packages: plan, tables, verdict, figures)."""
    sizes = {str(f.relative_to(PACKAGE)): len(f.read_text().splitlines()) for f in PACKAGE.rglob("*.py")}
    assert not {f: n for f, n in sizes.items() if n > 500}, sorted(sizes.items(), key=lambda kv: -kv[1])[:5]


def test_the_loop_reads_in_one_sitting_and_never_asks_what_kind_of_run_it_is():
    """memlib.loop: no function or method longer than 40 lines, and no branch on the kind of run (the config
    answers such questions: its alphabets, the evaluation schedule given to the loop)."""
    source = (PACKAGE / "loop.py").read_text()
    tree = ast.parse(source)
    loop_class = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "_Loop")
    long = [(f.name, f.end_lineno - f.lineno + 1) for f in ast.walk(loop_class)
            if isinstance(f, ast.FunctionDef) and f.end_lineno - f.lineno + 1 > 40]
    assert not long, long
    assert "is_schedule" not in ast.get_source_segment(source, loop_class) and "kind" not in ast.get_source_segment(source, loop_class)


def test_the_run_description_is_a_leaf_of_the_import_graph():
    graph = {m: {t for t, _ in found} for m, found in _imports().items()}
    assert graph["config"] <= {"strings"} and "config" in graph["store"]


def test_a_run_config_round_trips_through_its_json_with_its_key(tiny_llama):
    import json

    from memlib.config import RunConfig
    from memlib.store import run_key

    plain = memlib.expose(tiny_llama, ["abcabcab"], test_strings=["cbacbacb"], epochs=2, store=False, progress=False)
    sched = memlib.expose_schedule(tiny_llama, [memlib.Stage("abcabcab", epochs=1), memlib.Stage("bcabcabc", until=0.5,
                                                                                              max_epochs=2)],
                                   store=False, progress=False)
    for run in (plain, sched):
        saved = json.loads(json.dumps(run.config.to_dict()))
        again = RunConfig.from_dict(saved)
        assert again == run.config and run_key(saved) == run.key == run_key(again)
    assert not plain.config.is_schedule and plain.config.stages[0].epochs == 2 and "stages" not in plain.config.to_dict()
    assert sched.config.is_schedule and sched.config.stages[1].until == 0.5 and "epochs" not in sched.config.to_dict()


def test_notebooks_are_thin_and_the_readme_short():
    import json

    from memlib.notebooks import notebook_paths

    for path in notebook_paths():
        cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"][1:]  # after parameters
        lines = [line for c in cells for line in "".join(c["source"]).splitlines()
                 if line.strip() and not line.strip().startswith("#")]
        assert len(lines) <= 60, (path.name, len(lines))
    readme = (PACKAGE.parent / "README.md").read_text().splitlines()
    # the prose at most 250 lines; the table of primary tests that make reproduce writes (one line a test) apart
    begin, end = (next(i for i, line in enumerate(readme) if line.startswith(m)) for m in ("<!-- primary tests: begin",
                                                                                           "<!-- primary tests: end"))
    assert len(readme) - (end - begin) < 250 and any("make test" in line for line in readme)
