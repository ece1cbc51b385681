"""Typed notebook parameters: each finding declares them once (``Params``), its presets are instances, and the
parameters cell's values are checked once, before any work, with what is allowed."""
import json
import re

import pytest

import memlib
from memlib import presets
from memlib.notebooks import notebook_paths, setup
from memlib.parameters import NotebookParams

NOTEBOOKS = notebook_paths()


def test_every_finding_declares_its_parameters_and_presets_of_them():
    for number, name in memlib.FINDINGS.items():
        module = presets.finding_of(next(p.stem for p in NOTEBOOKS if p.name.startswith(number)))
        assert module.__name__ == f"memlib.{name}" and issubclass(module.Params, NotebookParams)
        assert module.PRESETS and all(type(p) is module.Params for p in module.PRESETS.values())
        for p in module.PRESETS.values():
            p.check()  # every preset is of its declared kinds


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if not p.name.startswith("00_")], ids=lambda p: p.stem)
def test_the_parameters_cell_names_exactly_the_findings_parameters(path):
    """What a reader can set in the parameters cell is what the finding declares (the explorer's cell sets its
    widgets, not a preset: left out)."""
    cell = next(c for c in json.loads(path.read_text())["cells"] if "parameters" in c["metadata"].get("tags", []))
    names = re.findall(r"^(\w+)\s*=", "".join(cell["source"]), re.M)
    assert sorted(set(names) - {"preset", "cache_dir", "figures_dir"}) == sorted(presets.finding_of(path.stem).Params.names())


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_an_unknown_name_a_bad_value_and_a_bad_preset_are_refused_before_any_work(path, tmp_path):
    """For every notebook: the message names the value and what is allowed, and no store folder is made."""
    notebook, never = path.stem, tmp_path / "never"
    first = presets.finding_of(notebook).Params.names()[0]
    with pytest.raises(ValueError, match=rf"unknown parameter\(s\) \['nonsense'\] for {notebook}: allowed are .*{first}"):
        presets.resolve(notebook, "smoke", nonsense=1)
    with pytest.raises(ValueError, match=rf"{first}=<object.*> is not allowed for {notebook}: use "):
        setup(notebook, {"preset": "smoke", "cache_dir": never, first: object()})
    with pytest.raises(ValueError, match=rf"preset='huge' is not allowed for {notebook}: use one of smoke, default"):
        setup(notebook, {"preset": "huge", "cache_dir": never})
    assert not never.exists()


def test_values_are_checked_against_their_declared_kinds():
    p = presets.resolve("03_local_prefix_global_context", "smoke")
    assert p.override(lengths={"tiny-llama": [16]}, positions=None).lengths == {"tiny-llama": [16]}
    for bad, message in ((dict(lengths="16"), "lengths='16' .* use a list or a dict"),
                         (dict(seeds=[0, "1"]), r"seeds=\[0, '1'\] .* use a list or a dict"),
                         (dict(draws=2.0), "draws=2.0 .* use an integer"),
                         (dict(lr="1e-3"), "lr='1e-3' .* use a number or a dict or None"),
                         (dict(past=True), "past=True .* use an integer")):
        with pytest.raises(ValueError, match=message):
            p.override(**bad)
    assert p.pick("past", "draws") == {"past": p.past, "draws": p.draws}
