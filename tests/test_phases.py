import numpy as np
import pandas as pd
import pytest

import memlib
from memlib import phases as ph
from memlib import config, milestones, parameters, presets


def _synthetic(epochs, train_acc, mass, entropy, test_acc, string_entropy=2.0, test_sd=0.0):
    """Tidy metrics of one run from given curves (2 test strings at test_acc +- test_sd)."""
    rows = []
    for e in range(epochs + 1):
        rows.append(dict(epoch=e, split="train", string=0, accuracy=train_acc[e], alphabet_mass=mass[e],
                         entropy=entropy[e], loss=1.0, entropy_position=1.0, string_entropy=string_entropy))
        for j, sign in enumerate((-1, 1)):
            rows.append(dict(epoch=e, split="test", string=j, accuracy=test_acc[e] + sign * test_sd,
                             alphabet_mass=mass[e], entropy=entropy[e], loss=1.0, entropy_position=1.0,
                             string_entropy=string_entropy))
    return pd.DataFrame(rows)


def test_known_boundaries_with_distinct_guessing_phase():
    E = 40
    ep = np.arange(E + 1)
    mass = np.clip(0.1 + 0.1 * ep, 0, 0.98)  # reaches 0.9 at epoch 8
    entropy = np.where(ep >= 6, 2.0, 1.0)  # within tolerance from epoch 6
    train = np.where(ep < 15, 0.2, np.minimum(0.2 + 0.05 * (ep - 14), 1.0))  # leaves 0.2 at epoch 15, 1.0 at 30
    test = np.full(E + 1, 0.2)
    out = milestones.detect_phases(_synthetic(E, train, mass, entropy, test))
    assert out["guess_end"] == 8
    assert out["mem_start"] == 16  # 0.30 > band 0.25 first at epoch 16 (0.25 is not above it)
    assert out["mem_end"] == 30
    assert out["distinct_guessing"] is True
    assert out["epochs_to_50"] == 20 and out["epochs_to_90"] == 28 and out["epochs_to_99"] == 30


def test_no_distinct_guessing_phase_when_distribution_and_positions_learnt_together():
    E = 30
    ep = np.arange(E + 1)
    mass = np.minimum(0.05 + 0.04 * ep, 1.0)  # 0.9 only at epoch 22
    train = np.minimum(0.05 * ep, 1.0)  # already above the band at epoch 6
    out = milestones.detect_phases(_synthetic(E, train, mass, np.full(E + 1, 2.0), np.full(E + 1, 0.15)))
    assert out["guess_end"] == 22 and out["mem_start"] == 5 and out["distinct_guessing"] is False
    # learnt exactly when memorisation starts: the phases are still sequential
    mass = np.where(ep >= 5, 0.95, 0.2)
    out = milestones.detect_phases(_synthetic(E, train, mass, np.full(E + 1, 2.0), np.full(E + 1, 0.15)))
    assert out["guess_end"] == 5 == out["mem_start"] and out["distinct_guessing"] is True


def test_censored_and_noisy_band():
    E = 20
    ep = np.arange(E + 1)
    train = np.full(E + 1, 0.3)
    train[5] = 0.9  # a spike that does not last is not the start of memorisation
    out = milestones.detect_phases(_synthetic(E, train, np.full(E + 1, 0.95), np.full(E + 1, 2.0), np.full(E + 1, 0.2),
                                      test_sd=0.05))
    assert out["mem_start"] is None and out["mem_end"] is None and out["epochs_to_99"] is None
    assert out["epochs_to_50"] == 5
    assert out["guess_end"] == 0 and out["distinct_guessing"] is True
    assert out["final_guess_band"] == pytest.approx(0.2 + 0.1)


def test_rule_thresholds_validated():
    with pytest.raises(ValueError, match="mass=1.5"):
        milestones.PhaseRule(mass=1.5)
    with pytest.raises(ValueError, match="test rows"):
        milestones.detect_phases(pd.DataFrame(dict(epoch=[0], split=["train"], accuracy=[0.1], alphabet_mass=[0.1],
                                           entropy=[1.0], string_entropy=[1.0])))


def test_phases_on_a_real_tiny_run(tiny_llama):
    s = memlib.random_strings(3, 7, 32, seed=1)
    run = memlib.expose(tiny_llama, s[:1], test_strings=s[1:], epochs=100, eval_every=5, store=False)
    out = milestones.phases(run)
    assert out["model"] == "tiny-llama" and out["length"] == 32
    acc = run.metrics[run.metrics.split == "train"].set_index("epoch").accuracy
    assert out["mem_end"] is not None and acc[out["mem_end"]] >= 0.99 and (acc.loc[: out["mem_end"] - 1] < 0.99).all()
    assert out["mem_start"] is not None and out["mem_start"] <= out["epochs_to_50"] <= out["mem_end"]
    table = milestones.phase_table([run, run])
    assert len(table) == 2 and {"guess_end", "mem_start", "epochs_to_90", "n_params"} <= set(table.columns)


def test_presets_resolve_and_validate():
    p = presets.resolve("01_dynamics", "smoke", length=None, seeds=[3, 4])
    assert p.seeds == [3, 4] and p.length == presets.PRESETS["01_dynamics"]["smoke"].length
    p.seeds.append(5)  # a resolved preset is a copy: the table stays as declared
    assert presets.PRESETS["01_dynamics"]["smoke"].seeds == [0]
    with pytest.raises(ValueError, match="preset='huge'.*smoke, default, paper"):
        presets.resolve("01_dynamics", "huge")
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['lenght'\]"):
        presets.resolve("01_dynamics", "default", lenght=12)
    with pytest.raises(ValueError, match="notebook '99_x'"):
        presets.resolve("99_x", "default")
    paper = presets.resolve("01_dynamics", "paper")
    assert paper.length == 1024 and paper.epochs == 100 and paper.lr == 1e-5
    assert paper.n_train_strings == 5 and paper.n_test_strings == 10
    assert any("pythia" in m for m in paper.models) and any("Llama-2" in m for m in paper.models)


def test_every_default_preset_names_epochs_for_each_model():
    for nb, table in presets.PRESETS.items():
        for name, p in table.items():
            if not hasattr(p, "models"):  # the explorer (00) trains nothing
                continue
            key = "epochs" if hasattr(p, "epochs") else "max_epochs"  # schedules (04): the most epochs a stage takes
            for m in p.models + getattr(p, "compare_models", []):
                for length in (parameters.model_lengths(p, m) if hasattr(p, "lengths") else [None]):  # 03: per length
                    epochs = config.per_model(config.per_length(getattr(p, key), length), m)
                    assert isinstance(epochs, int), (nb, name, m, length)
                    assert not hasattr(p, "past") or epochs > p.past, (nb, name, m, length)  # room after memorised


def test_cpu_long_runs_are_recorded_apart_from_the_default_presets(tiny_llama, tmp_path):
    assert presets.store_label("01_dynamics", "default") == "01_dynamics"
    assert presets.store_label("01_dynamics", "smoke") == "01_dynamics"
    label = presets.store_label("01_dynamics", "cpu-long")
    assert label == "01_dynamics.cpu-long"
    store = memlib.RunStore(tmp_path, notebook=label)  # a name the store accepts
    run = memlib.expose(tiny_llama, memlib.random_strings(1, 4, 8, seed=0), epochs=1, store=store, progress=False)
    assert store.notebooks() == ["01_dynamics.cpu-long"] and store.notebook_keys(label) == [run.key]


def test_every_preset_evaluates_held_out_strings_at_the_epochs_its_figures_read():
    for nb, table in presets.PRESETS.items():
        for name in table:
            assert presets.heldout_gaps(nb, presets.resolve(nb, name)) == [], (nb, name)


def test_held_out_gaps_are_named_and_warned():
    sparse = presets.resolve("01_dynamics", "default", eval_every=[0, 1, 2, 4])  # the default without 8, 16, 32
    gaps = presets.heldout_gaps("01_dynamics", sparse)
    assert "smollm2-135m: no held-out evaluation at epochs 8-15 of 0-28" in gaps
    assert "tiny-llama: no held-out evaluation at epochs 32-63 of 0-70" in gaps
    every_second = presets.resolve("02_string_difficulty", "default", eval_every=2)  # 0, 2, 4, ...: misses epoch 1
    assert presets.heldout_gaps("02_string_difficulty", every_second) == [
        "smollm2-135m: no held-out evaluation at epoch 1 of 0-20"]
    auto = presets.resolve("02_string_difficulty", "default", eval_every="auto")  # 10% of 1 training string's
    assert presets.heldout_gaps("02_string_difficulty", auto) == [  # compute: 2 passes over 3 held-out ones
        f"smollm2-135m: no held-out evaluation at {g} of 0-20" for g in ("epoch 1", "epochs 2-3", "epochs 4-7",
                                                                          "epochs 8-15")
    ] and memlib.eval_epochs(20, "auto", train_tokens=33, test_tokens=99) == [0, 20]
    late = presets.resolve("03_local_prefix_global_context", "default", eval_every=[5])
    late_gaps = presets.heldout_gaps("03_local_prefix_global_context", late)
    assert "smollm2-135m at 32 characters: no held-out evaluation at epochs [0] of 0-36" in late_gaps
    assert "tiny-llama at 128 characters: no held-out evaluation at epochs [0] of 0-130" in late_gaps
    assert not any(g.startswith("smollm2-135m at 128") for g in late_gaps)  # lengths per model: not run at 128
    assert sum(g.startswith("smollm2-135m at 32") for g in late_gaps) == 1  # in models and compare_models: named once
    # schedules evaluate held-out strings at every stage boundary, which is what notebook 04 reads
    assert presets.heldout_gaps("04_sequential_exposure", presets.resolve("04_sequential_exposure", "default",
                                                                          eval_every=2)) == []
    with pytest.warns(UserWarning, match="01_dynamics: smollm2-135m: no held-out evaluation at epochs 8-15"):
        presets.check_heldout("01_dynamics", sparse)


def test_trained_strings_own_letter_frequencies_are_guessing_not_memorisation():
    # A short string's most frequent letter covers 30% of it: a model that learnt only the
    # string's letter frequencies scores 0.3 while held-out strings score 0.14.
    E = 30
    ep = np.arange(E + 1)
    train = np.where(ep < 10, 0.3, np.minimum(0.3 + 0.1 * (ep - 9), 1.0))
    df = _synthetic(E, train, np.full(E + 1, 0.95), np.full(E + 1, 2.0), np.full(E + 1, 0.14))
    assert milestones.detect_phases(df)["mem_start"] == 0  # without the string's own frequencies: wrong
    df["unigram_guess"] = 0.3
    out = milestones.detect_phases(df)
    assert out["mem_start"] == 10 and out["final_guess_band"] == pytest.approx(0.35)


def test_stable_from():
    correct = np.array([[0, 1, 0, 1],
                        [1, 0, 0, 1],
                        [1, 1, 0, 1],
                        [1, 1, 1, 0]], dtype=bool)  # epochs x positions
    out = milestones.stable_from(correct)
    np.testing.assert_array_equal(out[:3], [1, 2, 3])
    assert np.isnan(out[3])  # wrong at the last epoch


def _paired_run(model, lr, seed=0, text="abcabcabca", mem_from=10):
    """A run of ``model`` whose train accuracy leaves the guessing level at ``mem_from``."""
    E = 30
    ep = np.arange(E + 1)
    train = np.where(ep < mem_from, 0.14, np.minimum(0.14 + 0.1 * (ep - mem_from + 1), 1.0))
    metrics = _synthetic(E, train, np.full(E + 1, 0.95), np.full(E + 1, 2.0), np.full(E + 1, 0.14))
    config = dict(model=model, lr=lr, seed=seed, epochs=E, train=[{"text": text}], test=[{"text": "cbacbacbac"}],
                  lr_schedule="constant", weight_decay=0.0, max_grad_norm=None, dropout=False, batch_size=1,
                  weights_dtype="float32", autocast=None, model_fingerprint=model, eval_every="auto",
                  memlib_version=memlib.__version__, run_format=0)
    return memlib.Run(config=config, metrics=metrics, arrays={}, meta={"n_params": 1})


def test_pretrained_vs_random_pairs_runs_on_the_same_strings_at_any_rates():
    runs = [_paired_run(m, lr, seed, mem_from=5 if m == "x" else 20)
            for lr in (1e-4, 5e-4) for m in ("x", "x-random") for seed in (0, 1)]
    table = ph.pretrained_vs_random(runs + runs[:1] + [_paired_run("tiny-llama", 1e-3)])  # no twin: ignored
    assert len(table) == 8 and set(table.pair) == {"x"}  # a run given twice counts once
    for (lr, init), g in table.groupby(["lr", "init"]):
        assert list(g.model) == (["x", "x"] if init == "pretrained" else ["x-random", "x-random"])
        assert list(g.seed) == [0, 1]
        assert list(g.mem_start) == ([5] if init == "pretrained" else [20]) * 2
    # a twin on other strings or with another seed is no twin; one at another rate is
    for odd in (_paired_run("x-random", 1e-4, text="bcabcabcab"), _paired_run("x-random", 1e-4, seed=7)):
        with pytest.raises(ValueError, match=r"x-random, lr .* has no twin"):
            ph.pretrained_vs_random(runs + [odd])
    mixed = ph.pretrained_vs_random([_paired_run("x", 1e-4), _paired_run("x-random", 5e-4)])
    assert sorted(mixed.init) == ["pretrained", "random"]
    with pytest.raises(ValueError, match="random-weight twin"):
        ph.pretrained_vs_random([_paired_run("x", 1e-4)])
    # which comparisons it holds: each at its own rate first (given), then both at every shared rate
    assert ph.twin_pairs(table, {"x": 1e-4, "x-random": 5e-4}) == [("x", 1e-4, 5e-4, True), ("x", 1e-4, 1e-4, False),
                                                                   ("x", 5e-4, 5e-4, False)]
    assert ph.twin_pairs(table) == [("x", 1e-4, 1e-4, False), ("x", 5e-4, 5e-4, False)]
    assert ph.twin_pairs(table, {"x": 5e-4, "x-random": 5e-4}) == [("x", 5e-4, 5e-4, True), ("x", 1e-4, 1e-4, False)]
    assert ph.twin_pairs(mixed) == [] and ph.twin_pairs(mixed, {"x": 1e-4, "x-random": 5e-4}) == [("x", 1e-4, 5e-4, True)]


def test_memorised_at_is_the_first_epoch_of_a_held_streak():
    from memlib.metrics import MEMORISED_HOLD, MEMORISED_THRESHOLD, memorised_at
    from memlib.config import ProbeSpec
    assert (MEMORISED_THRESHOLD, MEMORISED_HOLD) == (ProbeSpec().threshold, ProbeSpec().hold) == (0.99, 2)
    epochs = [0, 1, 2, 3, 4, 5]
    assert memorised_at(epochs, [0.2, 1.0, 0.9, 0.99, 1.0, 1.0]) == 3  # epoch 1 alone is not memorisation
    assert memorised_at(epochs, [0.2, 0.5, 0.9, 0.9, 0.9, 1.0]) is None  # the last epoch cannot complete a streak
    assert memorised_at(epochs, [0.2, 0.5, 0.9, 0.9, 0.9, 1.0], hold=1) == 5
    assert memorised_at([0, 2, 4], [0.1, 1.0, 1.0]) == 2  # measured epochs, not indices
    with pytest.raises(ValueError, match="hold=0 is not allowed"):
        memorised_at(epochs, [1.0] * 6, hold=0)
    with pytest.raises(ValueError, match="threshold=1.5 is not allowed"):
        memorised_at(epochs, [1.0] * 6, threshold=1.5)


def test_pretrained_families_are_compared_seed_by_seed_on_the_same_strings():
    """Two pretrained models (names of no random-weight model) on the same strings per seed: the second against the
    first, seed by seed, with censoring; a random-weight model is no family; other strings at one seed are refused."""
    from memlib.stats import in_family

    runs = [_paired_run(m, 1e-4, seed, mem_from=5 if m == "x" else 12) for m in ("x", "y", "tiny-llama")
            for seed in range(8)]
    table = milestones.phase_table(runs)
    families = ph.family_contrasts(runs, table)
    assert list(families) == [("y", "x")]
    memorised = families[("y", "x")]["mem_end"]
    assert memorised.kind == "ratio" and memorised.higher == 8 and memorised.lower == 0 and memorised.interval.estimate > 1
    per_model = ph.model_summary(table)
    text = "\n".join(in_family(lambda f: ph.family_lines(families, table, per_model, f), ph.PRIMARY))
    assert "y / x, pretrained families (lr 1e-4 / 1e-4), seed by seed" in text
    assert "epochs until memorised, " in text and "slower" in text
    in_order = ph.milestones_in_order(table)
    assert f"x {in_order['x']}/8 runs, y {in_order['y']}/8 runs." in text
    odd = runs[:8] + [_paired_run("y", 1e-4, s, text="bcabcabcab" if s == 3 else "abcabcabca") for s in range(8)]
    with pytest.raises(ValueError, match="y and x trained other strings at seed 3"):
        ph.family_contrasts(odd, milestones.phase_table(odd))
    assert ph.family_contrasts(runs[:8], table[table.model == "x"]) == {}
