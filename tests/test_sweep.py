import dataclasses

import pytest

import memlib
from memlib import context, sweep


def test_split_strings_share_one_generator():
    train, test = sweep.split_strings(5, alphabet_size=4, length=20, n_train=2, n_test=3)
    allx = memlib.random_strings(5, 4, 20, seed=5)
    assert [s.text for s in train + test] == [s.text for s in allx]


def test_sweep_caches_and_resumes(tmp_path):
    store = memlib.RunStore(tmp_path)
    kw = dict(alphabet_size=5, length=12, n_train_strings=1, n_test_strings=2, epochs={"tiny-llama": 3, "tiny-phi": 2},
              store=store, progress=False)
    first = sweep.exposure_runs(["tiny-llama"], [0, 1], **kw)
    assert [r.from_store for r in first] == [False, False]
    both = sweep.exposure_runs(["tiny-llama", "tiny-phi"], [0, 1], **kw)  # resumes: trains only tiny-phi
    assert [r.from_store for r in both] == [True, True, False, False]
    assert [(r.config.model, r.config.seed, r.config.epochs) for r in both] == [
        ("tiny-llama", 0, 3), ("tiny-llama", 1, 3), ("tiny-phi", 0, 2), ("tiny-phi", 1, 2)]
    assert both[0].metrics.equals(first[0].metrics)


def test_a_sweep_holds_what_keep_returns_and_the_store_keeps_each_run_whole(tmp_path):
    store = memlib.RunStore(tmp_path)
    grid = dict(models=["tiny-llama"], seeds=[0, 1], grid=[{"alphabet_size": 5}], length=12, n_train_strings=2,
                n_test_strings=1, epochs=2)
    (kept,) = sweep.grids_runs([grid], store=store, progress=False, keep=lambda r: (r.key, len(r.arrays)))
    assert [k for k, _ in kept] == [r.key for r in sweep.grids_runs([grid], store=store, progress=False)[0]]
    assert all(n > 0 for _, n in kept)  # keep saw the whole run
    (again,) = sweep.grids_runs([grid], store=store, progress=False, keep=lambda r: r.from_store)
    assert again == [True, True]  # applied to loaded runs as well
    with pytest.raises(ValueError, match="keep=3 is not allowed"):
        sweep.grids_runs([grid], store=store, progress=False, keep=3)


@pytest.mark.parametrize("kwargs, message", [
    (dict(epochs={"/no/such/model": 2, "tiny-phi": 3}), "no value for model 'tiny-llama'"),
    (dict(epochs=0), "epochs=0"),
    (dict(lr=-1e-3), "lr=-0.001"),
    (dict(seeds=[-1]), "seed=-1"),
    (dict(seeds="01"), "seeds='01'"),
    (dict(models="tiny-llama"), "models='tiny-llama'"),
    (dict(alphabet_size=30), "alphabet_size=30"),
    (dict(n_train_strings=0), "n_train_strings=0"),
    (dict(n_test_strings=-1), "n_test_strings=-1"),
    (dict(max_grad_norm=-1.0), "max_grad_norm=-1.0"),
])
def test_sweep_checks_everything_before_work(tmp_path, kwargs, message):
    # "/no/such/model" comes first: loading anything before checking would raise "is not available here"
    args = dict(models=["/no/such/model", "tiny-llama"], seeds=[0], alphabet_size=5, length=12, n_train_strings=1,
                n_test_strings=1, epochs=2, store=memlib.RunStore(tmp_path), progress=False) | kwargs
    with pytest.raises(ValueError, match=message):
        sweep.exposure_runs(args.pop("models"), args.pop("seeds"), **args)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("lrs, message", [(1e-4, "lrs=0.0001"), ([1e-4, -1.0], "lr=-1.0"), ([1e-4, 1e-4], "appears twice"),
                                         ([None], "lrs contains None"), ([{"x": 1e-4}], "lrs contains")])
def test_twin_runs_check_rates_before_work(tmp_path, lrs, message):
    with pytest.raises(ValueError, match=message):
        sweep.twin_runs(["/no/such/model", "/no/such/model-random"], [0], lrs, alphabet_size=5, length=12,
                        n_train_strings=1, n_test_strings=1, epochs=2, store=memlib.RunStore(tmp_path), progress=False)
    assert not (tmp_path / "runs").exists()


def test_twin_runs_without_twins_or_rates_run_nothing(tmp_path):
    kw = dict(alphabet_size=5, length=12, n_train_strings=1, n_test_strings=1, epochs=2,
              store=memlib.RunStore(tmp_path), progress=False)
    assert sweep.twin_runs(["tiny-llama"], [0], [1e-3], **kw) == []
    assert sweep.twin_runs(["/no/such/model", "/no/such/model-random"], [0], [], **kw) == []
    assert not (tmp_path / "runs").exists()


def test_length_runs_check_every_length_before_any_run_trains(tmp_path):
    """Notebook 03's runs over lengths: a length without epochs, or a probe moment past a length's epochs, is refused
    before the first run trains (nothing in the store); kept lengths above a string's length are left out there."""
    from memlib import presets, probes

    store = memlib.RunStore(tmp_path / "store")
    spec = probes.ProbeSpec(at=("memorised", "memorised+4"), replace=("random",), replace_ks=(2, 8, 32), shifts=(1,),
                            draws=1, positions=2)
    params = presets.resolve("03_local_prefix_global_context", "smoke", lengths=[16, 48])
    with pytest.raises(ValueError, match="no value for length 48"):
        context.length_runs(params, spec, store)
    params = presets.resolve("03_local_prefix_global_context", "smoke", epochs={16: 50, 32: 3})
    with pytest.raises(ValueError, match="'memorised\\+4'"):
        context.length_runs(params, spec, store)
    assert not list(store.root.glob("runs/*"))
    assert context.fit_spec(spec, 16).replace_ks == (2, 8) and context.fit_spec(spec, 32).replace_ks == (2, 8, 32)
    with pytest.raises(ValueError, match="leaves nothing for strings of 4 characters"):
        context.fit_spec(probes.ProbeSpec(replace_ks=(8,)), 4)


def test_length_runs_take_lengths_per_model(tmp_path):
    """``lengths`` per model (notebook 03's default: the pretrained model at the short length only): each model runs
    at its own lengths, shortest first; a model missing from the dict is refused before anything trains."""
    from memlib import parameters, presets, probes

    store = memlib.RunStore(tmp_path / "store")
    spec = probes.ProbeSpec(at=("memorised",), replace=("random",), replace_ks=(2,), shifts=(1,), draws=1, positions=2)
    params = presets.resolve("03_local_prefix_global_context", "smoke", lengths={"tiny-llama": [16]},
                             epochs={16: 3, 32: 3}, alphabet_sizes=[7])
    with pytest.raises(ValueError, match="no value for model 'tiny-phi'"):
        context.length_runs(params, spec, store)
    assert not list(store.root.glob("runs/*"))
    params = params.override(lengths={"tiny-llama": [16], "tiny-phi": [16, 32]},
                             positions={16: 3})  # positions per length too: none given for 32
    with pytest.raises(ValueError, match="no value for length 32"):
        context.length_runs(params, spec, store)
    assert not list(store.root.glob("runs/*"))
    params = dataclasses.replace(params, positions={16: 3, "32": None})  # papermill hands dict keys on as strings
    one_length = presets.resolve("01_dynamics", "smoke", length=9)
    assert parameters.model_lengths(params, "tiny-phi") == [16, 32] and parameters.model_lengths(one_length, "x") == [9]
    main, compare = context.length_runs(params, spec, store)
    assert [len(r.config.train[0]["text"]) for r in main] == [16]
    assert [len(r.config.train[0]["text"]) for r in compare] == [16, 32]
    assert [r.config.probes.positions for r in main + compare] == [3, 3, None]
    gaps = presets.heldout_gaps("03_local_prefix_global_context", params.override(eval_every=[1]))
    assert gaps == ["tiny-llama at 16 characters: no held-out evaluation at epochs [0] of 0-3",
                    "tiny-phi at 16 characters: no held-out evaluation at epochs [0] of 0-3",
                    "tiny-phi at 32 characters: no held-out evaluation at epochs [0] of 0-3"]


def test_a_grid_is_planned_and_checked_before_any_model_loads():
    """plan_grid: one PlannedRun per (model, setting, seed), strings drawn, nothing loaded; a bad value or an
    unknown setting is refused there."""
    models, plan = sweep.plan_grid(["tiny-llama", "no-such-model"], [0, 1], [{"alphabet_size": 4}], length=6,
                                   n_train_strings=1, n_test_strings=2, epochs={"tiny-llama": 3, "no-such-model": 5})
    assert models == ["tiny-llama", "no-such-model"] and [(p.model, p.seed, p.epochs) for p in plan] == [
        ("tiny-llama", 0, 3), ("tiny-llama", 1, 3), ("no-such-model", 0, 5), ("no-such-model", 1, 5)]
    assert plan[0].settings["train_strings"][0].text != plan[1].settings["train_strings"][0].text
    with pytest.raises(ValueError, match="lr=-1"):
        sweep.plan_grid(["tiny-llama"], [0], [{"alphabet_size": 4}], length=6, n_train_strings=1, n_test_strings=0,
                        epochs=3, lr=-1)
    with pytest.raises(TypeError, match="unexpected keyword argument 'lenght'"):
        sweep.grid_runs(["tiny-llama"], [0], [{"alphabet_size": 4}], lenght=6, n_train_strings=1, n_test_strings=0,
                        epochs=3, store=False)
