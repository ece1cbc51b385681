"""Every numbered notebook: committed clean, and executed end to end by papermill (smoke preset)."""
import json

import nbformat
import pytest

from memlib import config, phases, presets, probes
from memlib.notebooks import main, notebook_paths, parse_params

NOTEBOOKS = notebook_paths()


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks/NN_*.ipynb found"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_clean(path):
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name} cell {i} has outputs: run `make strip`"
            assert cell.execution_count is None, f"{path.name} cell {i} has an execution count: run `make strip`"
    tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{path.name} needs exactly one cell tagged 'parameters'"
    assert "preset" in tagged[0].source and "figures_dir" in tagged[0].source
    # papermill must parse every parameter (it skips lines it cannot parse, e.g. "=" in a comment)
    import papermill

    assigned = [line.split("=")[0].strip() for line in tagged[0].source.splitlines() if line and line[0].isalpha()]
    assert sorted(papermill.inspect_notebook(str(path))) == sorted(assigned)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_executes_with_smoke_preset(path, smoke_notebooks):
    out, figures = smoke_notebooks.execute(path)
    prefix = path.name[:2]
    pngs = sorted(figures.glob(f"{prefix}_*.png"))
    assert pngs, f"{path.name} wrote no figures"
    for png in pngs:
        assert png.stat().st_size > 10_000 and png.with_suffix(".svg").is_file()
    nb = json.loads(out.read_text())
    errors = [o for c in nb["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    assert out.stat().st_size < 3_000_000  # no megabytes of progress bars


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if not p.name.startswith("00_")], ids=lambda p: p.name)
def test_each_finding_is_the_verdict_the_notebook_printed(path, smoke_notebooks):
    """A numbered notebook's last verdict cell shows its verdict and writes the same lines as its finding
    (``<stem>.md``: ``make reproduce`` publishes it to findings/), naming the notebook and the preset."""
    out, folder = smoke_notebooks.execute(path)
    shown = [o["data"]["text/markdown"] for c in json.loads(out.read_text())["cells"] for o in c.get("outputs", [])
             if "text/markdown" in o.get("data", {})]
    page = (folder / f"{path.stem}.md").read_text()
    assert shown and page.rstrip("\n").endswith("".join(shown[-1]).rstrip("\n"))
    assert page.startswith("# ") and f"notebooks/{path.stem}.ipynb" in page and "`smoke` preset" in page
    link = page.split(".ipynb`](", 1)[1].split(")", 1)[0]  # relative to the folder the finding was published to
    assert (folder / link).resolve() == path.resolve(), link
    assert "- " in "".join(shown[-1])  # one line per statement


def test_each_notebook_records_the_runs_it_used(smoke_notebooks):
    """The shared smoke store knows which notebook used which run (what the explorer filters by)."""
    store = smoke_notebooks.execute_all()
    used = {nb: store.notebook_keys(nb) for nb in store.notebooks()}
    assert sorted(used) == sorted(p.stem for p in NOTEBOOKS if not p.name.startswith("00_"))
    for nb, keys in used.items():
        assert keys and all(k in store for k in keys), nb
    assert set().union(*map(set, used.values())) == set(store.keys())  # every stored run was used by one


def test_explorer_notebook_opens_on_notebook_01s_run(smoke_notebooks):
    path = next(p for p in NOTEBOOKS if p.name.startswith("00_"))
    out, _ = smoke_notebooks.execute(path)
    text = "".join("".join(o.get("text", "")) for c in json.loads(out.read_text())["cells"] for o in c.get("outputs", []))
    saved = next(line for line in text.splitlines() if line.startswith("saved Run("))
    from memlib import explorer

    store = smoke_notebooks.store
    chosen = explorer.filter_runs(explorer.catalogue(store), notebook="01_dynamics", model="smollm2-135m", seed=0)
    assert f"key={chosen.key.iloc[0][:12]}" in saved
    assert store.keys() == smoke_notebooks.keys_before_explorer  # the explorer trained and stored nothing
    # the static figure is shown inline, as an image, not as the Figure's repr
    last = [c for c in json.loads(out.read_text())["cells"] if c["cell_type"] == "code"][-1]
    assert any("image/png" in o.get("data", {}) for o in last["outputs"]) and "<Figure size" not in text


def test_pretrained_and_random_init_compared_each_at_its_own_rate_and_at_equal_rates(smoke_notebooks):
    """Notebook 01's comparison: from the stored runs' configurations, every learning rate of the
    preset's init_lrs has both models on the same strings and seeds, no run of either model lacks its
    twin, and the finding tests each model at its own rate as its primary contrast."""
    path = next(p for p in NOTEBOOKS if p.name.startswith("01_"))
    _, folder = smoke_notebooks.execute(path)
    store = smoke_notebooks.store
    runs = [store.load(k) for k in store.notebook_keys("01_dynamics")]
    P = presets.resolve("01_dynamics", "smoke")
    assert len(P.init_lrs) >= 2
    pair = ("smollm2-135m", "smollm2-135m-random")
    for lr in P.init_lrs:
        for seed in P.seeds:
            found = sorted((r.config.model, json.dumps(r.config.train)) for r in runs
                           if r.config.lr == lr and r.config.seed == seed and r.config.model in pair)
            assert [m for m, _ in found] == list(pair), (lr, seed, found)
            assert found[0][1] == found[1][1]  # the same training strings
    table = phases.pretrained_vs_random(runs)  # raises if any run of either model has no twin on its strings
    assert sorted(set(table.lr)) == sorted(P.init_lrs)
    assert (table.groupby(["lr", "seed"]).init.nunique() == 2).all()
    # each at its own rate, then both at each shared rate; the finding tests the first, and only it, as primary
    own = {"smollm2-135m": 1e-4, "smollm2-135m-random": 5e-4}
    assert phases.twin_pairs(table, own)[0] == ("smollm2-135m", 1e-4, 5e-4, True)
    page = (folder / f"{path.stem}.md").read_text()
    assert "Pretrained / random weights, each at its own rate (lr 1e-4 / 5e-4)" in page
    assert "Holm-adjusted over 2 primary tests" in page  # the own-rate tests (one seed: no order over seeds)


def test_command_line_parameters_parse_as_yaml():
    assert parse_params(["models=[EleutherAI/pythia-1b, microsoft/phi-2]", "length=64", "lr=1e-5", "eval_every=auto"]) == {
        "models": ["EleutherAI/pythia-1b", "microsoft/phi-2"], "length": 64, "lr": 1e-5, "eval_every": "auto"}
    for bad in ("models", "=3", "two words=1"):
        with pytest.raises(ValueError, match="is not allowed"):
            parse_params([bad])
    with pytest.raises(SystemExit):
        main(["--param", "nonsense"])


@pytest.mark.parametrize("args, message", [
    (["--only", "01", "--param", "model=[tiny-llama]"], "--param model is not a parameter of 01_dynamics.ipynb"),
    (["--param", "alphabet_size=4"], "not a parameter of 02_string_difficulty.ipynb"),
    (["--param", "figures_dir=/tmp/x"], "use --figures"),
])
def test_command_line_refuses_unknown_parameters_before_running(args, message, capsys, tmp_path):
    with pytest.raises(SystemExit):
        main([*args, "--executed", str(tmp_path / "executed"), "--figures", str(tmp_path / "figures")])
    assert message in capsys.readouterr().err
    assert not (tmp_path / "executed").exists() and not (tmp_path / "figures").exists()


def test_string_difficulty_compares_a_two_setting_grid_setting_by_setting(tmp_path):
    """Notebook 02 on a grid like the cpu-long preset's (one alphabet, two entropies, one family, one
    seed), at smoke size: no trend can be fitted, so the verdict compares the two settings."""
    from memlib.notebooks import run_notebook

    path = next(p for p in NOTEBOOKS if p.name.startswith("02_"))
    extra = dict(cache_dir=str(tmp_path / "store"), models=["tiny-llama"], alphabet_sizes=[7], entropy_levels=[1.0],
                 families=["exponential"], family_check_seeds=[], seeds=[0], epochs=4)
    out = run_notebook(path, tmp_path / "executed", preset="smoke", figures_dir=tmp_path / "figures", extra=extra)
    text = "".join("".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/markdown", ""))
                   for c in json.loads(out.read_text())["cells"] for o in c.get("outputs", []))
    assert "too few runs or settings for a fit; setting by setting" in text
    assert "7 letters at 1.00 bits per character" in text and "7 letters at 2.81 bits per character" in text
    assert "no family check" in text
    assert not (tmp_path / "figures" / "02_family_check.png").exists()
    # uniform strings only: entropy is log2(alphabet size), so only one of the two can be fitted
    extra.update(alphabet_sizes=[2, 7, 26], entropy_levels=[], seeds=[0, 1])
    out = run_notebook(path, tmp_path / "executed", preset="smoke", figures_dir=tmp_path / "figures", extra=extra)
    text = "".join("".join(o.get("data", {}).get("text/markdown", ""))
                   for c in json.loads(out.read_text())["cells"] for o in c.get("outputs", []))
    assert "alphabet size at fixed entropy not varied" in text
    assert "guessing level (held-out accuracy): entropy -" in text or "guessing level (held-out accuracy): entropy +" in text


def test_local_prefix_notebook_cpu_long_preset_checks_and_runs_at_smoke_size(tmp_path):
    """Notebook 03's cpu-long preset (512 and 1,024 characters): no held-out gaps, probes that fit every length and
    run, and the notebook runs under papermill at that preset with smoke sizes (a tiny model, short strings)."""
    from memlib.notebooks import run_notebook
    from memlib.probes import check_probes

    name = "03_local_prefix_global_context"
    P = presets.resolve(name, "cpu-long")
    assert P.lengths == [512, 1024] and presets.heldout_gaps(name, P) == []
    for length in P.lengths:
        epochs = config.per_length(P.epochs, length)
        assert epochs > P.past
        check_probes(probes.ProbeSpec(at=("memorised", f"memorised+{P.past}"), ks=P.ks,
                                      replace_ks=P.replace_ks, shifts=P.shifts, draws=P.draws,
                                      positions=P.positions), length, epochs, 1, 1)
    path = next(p for p in NOTEBOOKS if p.name.startswith("03_"))
    extra = dict(cache_dir=str(tmp_path / "store"), models=["tiny-llama"], lengths=[16, 24], epochs={16: 60, 24: 80},
                 past=4, seeds=[0])
    out = run_notebook(path, tmp_path / "executed", preset="cpu-long", figures_dir=tmp_path / "figures", extra=extra)
    text = "".join("".join(o.get("data", {}).get("text/markdown", ""))
                   for c in json.loads(out.read_text())["cells"] for o in c.get("outputs", []))
    assert "Reading at 16 characters" in text and "Reading at 24 characters" in text
    assert (tmp_path / "figures" / "03_context_probes.png").exists()
    with pytest.raises(ValueError, match="no value for length 48"):
        config.per_length({16: 60}, 48)


def test_dynamics_notebook_cpu_long_preset_gives_the_twin_more_epochs_at_its_own_rate():
    """Notebook 01's cpu-long preset: SmolLM2 and its twin only, the twin trained longer at its own rate (not
    SmolLM2's), the shared rate SmolLM2's, held-out strings in every doubling of both models' epochs. (The notebook
    path with these models is the smoke preset's; the preset's own run is recorded in benchmarks/RESULTS.md.)"""
    name = "01_dynamics"
    P = presets.resolve(name, "cpu-long")
    assert P.models == ["smollm2-135m", "smollm2-135m-random"] and presets.heldout_gaps(name, P) == []
    assert P.epochs["smollm2-135m-random"] > P.epochs["smollm2-135m"]
    assert P.lr["smollm2-135m-random"] != P.lr["smollm2-135m"] and P.init_lrs == [P.lr["smollm2-135m"]]
    assert len(P.seeds) >= 8 and set(P.init_seeds) <= set(P.seeds)  # a family of 3 needs n = 8


def test_a_preset_a_notebook_lacks_is_refused_before_anything_runs(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--preset", "cpu-long", "--only", "01,04"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "--preset cpu-long is not defined for 04_sequential_exposure" in err
    assert ("it is for 01_dynamics, 02_string_difficulty, 03_local_prefix_global_context, 06_capacity, 07_privacy_audit "
            "(pick them with --only)") in err
    with pytest.raises(SystemExit):
        main(["--preset", "huge", "--only", "01"])
    err = capsys.readouterr().err
    assert "--preset huge is not defined for 01_dynamics: use one of " in err
    assert all(name in err.split("use one of ")[1] for name in ("smoke", "default", "paper", "cpu-long", "families"))
    with pytest.raises(SystemExit):
        main(["--preset", "families", "--only", "04"])
    assert ("--preset families is not defined for 04_sequential_exposure: it is for 01_dynamics, 02_string_difficulty, "
            "03_local_prefix_global_context (pick them with --only)") in capsys.readouterr().err


def test_setup_resolves_checks_and_opens_the_notebooks_store(tmp_path, capsys):
    """The call every numbered notebook starts with: the preset's parameters with overrides, a store that records
    the notebook's runs under its label, and the environment printed; a bad value is refused before any store."""
    from memlib.notebooks import setup

    P, store = setup("01_dynamics", {"preset": "smoke", "cache_dir": tmp_path / "store", "seeds": [3], "lr": None,
                                     "figures_dir": "elsewhere"})
    assert P.seeds == [3] and P.lr == presets.resolve("01_dynamics", "smoke").lr
    assert store.root == (tmp_path / "store").resolve()
    out = capsys.readouterr().out
    assert "torch" in out and "bf16" in out and str(store.root) in out
    _, long_store = setup("01_dynamics", {"preset": "cpu-long", "cache_dir": tmp_path / "long"})
    assert long_store.notebook == "01_dynamics.cpu-long"
    with pytest.raises(ValueError, match=r"seeds=\[-1, 'a'\] is not allowed for 01_dynamics: use a list"):
        setup("01_dynamics", {"preset": "smoke", "cache_dir": tmp_path / "never", "seeds": [-1, "a"]})
    with pytest.raises(ValueError, match="preset='tiny' is not allowed"):
        setup("03_local_prefix_global_context", {"preset": "tiny", "cache_dir": tmp_path / "never"})
    assert not (tmp_path / "never").exists()


def test_sequential_notebook_runs_its_controls_and_checks_the_shared_model_state(smoke_notebooks):
    """Notebook 04 at the smoke preset: per seed the sequence, the same stages ending with a never-seen string, S2 on a
    fresh model and the disjoint-alphabet control; seeds share no string and no initialisation; the two sequences of a
    seed had the same model when their last stage started, which the stored runs show (not assumed) and the verdict
    states."""
    from memlib import sequential

    path = next(p for p in NOTEBOOKS if p.name.startswith("04_"))
    out, folder = smoke_notebooks.execute(path)
    store = smoke_notebooks.store
    runs = [store.load(k) for k in store.notebook_keys("04_sequential_exposure")]
    P = presets.resolve("04_sequential_exposure", "smoke")
    by_seed = {}
    for r in runs:
        by_seed.setdefault(r.config.seed, []).append(r)
    assert sorted(by_seed) == P.seeds and all(len(rs) == 4 for rs in by_seed.values())
    orders, inits = set(), set()
    for seed, rs in by_seed.items():
        seqs = [r for r in rs if len(r.config.stages) == P.n_strings + 1]
        seq = next(r for r in seqs if r.config.stages[-1].strings == (0,))
        new = next(r for r in seqs if r.config.stages[-1].strings == (P.n_strings,))
        orders.add(tuple(d["text"] for d in seq.config.train))
        inits |= {r.config.model_fingerprint for r in rs}
        state = sequential.shared_state(seq, new)
        assert state["identical"] and state["compared"] > 0, (seed, state)
    assert len({t for o in orders for t in o}) == len(P.seeds) * P.n_strings  # no string shared between seeds
    assert len(inits) == len(P.seeds)  # one initialisation per seed, shared by that seed's schedules
    page = (folder / f"{path.stem}.md").read_text()
    assert f"The model was the same when that stage started in {len(P.seeds)} of {len(P.seeds)} seeds" in page
    assert "S1 again / N" in page and "Reading:" in page
