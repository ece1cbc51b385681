"""Schedules (memlib.expose_schedule) and the sequential-exposure analyses, on a tiny model."""
import numpy as np
import pandas as pd
import pytest

import memlib
from memlib import Stage, expose, expose_schedule, sequential, sweep


@pytest.fixture(scope="module")
def strings():
    return memlib.random_strings(5, 4, 10, seed=2)


def _run(model, stages, test, **kw):
    return expose_schedule(model, stages, test_strings=test, store=False, progress=False, **kw)


def test_fixed_stages_have_their_lengths_and_every_string_is_measured_every_epoch(tiny_llama, strings):
    S = strings
    run = _run(tiny_llama, [Stage(S[0], epochs=3), Stage([S[1], S[2]], epochs=2), Stage(S[0], epochs=1)], S[3:])
    assert run.arrays["stage_bounds"].tolist() == [0, 3, 5, 6]
    assert [d["text"] for d in run.config.train] == [s.text for s in S[:3]]  # S[0] again is the same string
    assert run.config.stages[2].strings == (0,)
    assert run.arrays["train_epochs"].tolist() == list(range(7))
    assert run.arrays["train_measured"].all() and run.arrays["test_measured"].all()
    m = run.metrics
    assert len(m[m.split == "train"]) == 7 * 3 and len(m[m.split == "test"]) == 7 * 2
    train = m[m.split == "train"]
    assert train[train.epoch == 4].set_index("string").trained.tolist() == [False, True, True]
    # epoch 5 ends stage 1 (its last measurement is its own) and starts stage 2: all three are trained
    at5 = train[train.epoch == 5].set_index("string")
    assert at5.trained.tolist() == [True, True, True] and at5.stage.tolist() == [2, 1, 1]
    assert train[train.epoch == 3].set_index("string").stage.tolist() == [0, 1, 1]
    assert sorted(set(train.stage)) == [0, 1, 2]


def test_until_stage_stops_once_the_threshold_is_held_and_a_stage_that_never_reaches_it_is_censored(tiny_llama, strings):
    S = strings
    # 9 of 10 characters: held from epoch 14 to 33 on three kernel sets (10 of 10 is reached at epoch 34, lost
    # again and held only from epoch 97-107 at this lr, where each CPU's kernels put it)
    run = _run(tiny_llama, [Stage(S[0], until=0.9, hold=2, max_epochs=150), Stage(S[1], until=1.0, max_epochs=2)], S[3:],
               lr=3e-3)
    bounds, mem = run.arrays["stage_bounds"].tolist(), run.arrays["stage_memorised"].tolist()
    acc = run.metrics[(run.metrics.split == "train") & (run.metrics.string == 0)].set_index("epoch").accuracy
    ok = (acc * 10).round().astype(int) >= 9  # thresholds are decided on counts
    # stage 0 ends at the second of two epochs in a row at the threshold, and not before
    assert mem[0] >= 0 and bounds[1] == mem[0] + 1
    assert ok.loc[mem[0]:bounds[1]].all() and not ok.loc[mem[0] - 1]
    assert not any(ok.loc[e] and ok.loc[e + 1] for e in range(mem[0] - 1))
    # stage 1 runs out: censored after exactly max_epochs
    assert mem[1] == -1 and bounds[2] - bounds[1] == 2
    table = sequential.stage_table([run])
    assert table.censored.tolist() == [False, True] and table.memorised.iloc[0] == mem[0]
    assert table.epochs.tolist() == [bounds[1], 2]


def test_thresholds_are_decided_on_counts_and_a_stage_can_take_zero_epochs(tiny_llama, strings):
    S = strings  # 10 characters: 0.7 is reached by exactly 7 correct, which a float mean can miss
    run = _run(tiny_llama, [Stage(S[0], until=0.7, hold=1, max_epochs=100), Stage(S[0], until=0.7, hold=1, max_epochs=5)],
               S[3:], lr=3e-3)
    acc = run.metrics[(run.metrics.split == "train") & (run.metrics.string == 0)].set_index("epoch").accuracy
    hits = (acc * 10).round().astype(int)
    first = int(hits[hits >= 7].index.min())
    assert run.arrays["stage_memorised"].tolist() == [first, 0]
    assert run.arrays["stage_bounds"].tolist() == [0, first, first]  # the second stage starts memorised: 0 epochs
    last = run.metrics[(run.metrics.split == "train") & (run.metrics.epoch == first)]
    assert last.trained.tolist() == [True] and last.stage.tolist() == [1]
    table = sequential.stage_table([run])
    assert table.epochs.tolist() == [first, 0] and table.occurrence.tolist() == [1, 2]


def test_one_stage_schedule_gives_the_metrics_of_expose(tiny_llama, strings):
    S = strings
    a = expose(tiny_llama, [S[0], S[1]], test_strings=S[3:], epochs=4, eval_every=1, seed=3, store=False, progress=False)
    b = _run(tiny_llama, [Stage([S[0], S[1]], epochs=4)], S[3:], seed=3)
    cols = list(a.metrics.columns)
    pd.testing.assert_frame_equal(a.metrics, b.metrics[cols], check_exact=True)
    for name in ("train_correct", "train_p_true", "test_correct", "test_p_true", "train_epochs", "test_epochs"):
        assert np.array_equal(a.arrays[name], b.arrays[name]), name


def test_store_key_follows_every_part_of_the_schedule_and_a_stored_schedule_is_loaded(tiny_llama, strings, tmp_path):
    S = strings
    base = [Stage(S[0], epochs=2), Stage(S[1], until=0.9, hold=1, max_epochs=3)]
    store = memlib.RunStore(tmp_path)
    first = expose_schedule(tiny_llama, base, test_strings=S[3:], store=store, progress=False)
    again = expose_schedule(tiny_llama, base, test_strings=S[3:], store=store, progress=False)
    assert again.from_store and again.key == first.key
    pd.testing.assert_frame_equal(first.metrics, again.metrics, check_exact=True)
    assert np.array_equal(first.arrays["train_measured"], again.arrays["train_measured"])

    def key(stages, **kw):
        return expose_schedule(tiny_llama, stages, test_strings=S[3:], store=False, progress=False, **kw).key

    variants = [
        [Stage(S[0], epochs=3), base[1]],
        [base[0], Stage(S[1], until=0.8, hold=1, max_epochs=3)],
        [base[0], Stage(S[1], until=0.9, hold=2, max_epochs=3)],
        [base[0], Stage(S[1], until=0.9, hold=1, max_epochs=4)],
        [base[1], base[0]],
        [Stage(S[2], epochs=2), base[1]],
        base + [Stage(S[0], epochs=1)],
    ]
    keys = {key(v) for v in variants} | {key(base, reset_optimizer=False), key(base, eval_every=2), first.key}
    assert len(keys) == len(variants) + 3


def test_reset_and_kept_optimiser_state_both_train_and_differ(tiny_llama, strings):
    S = strings
    stages = [Stage(S[0], epochs=3), Stage(S[1], epochs=3)]
    reset = _run(tiny_llama, stages, S[3:])
    kept = _run(tiny_llama, stages, S[3:], reset_optimizer=False)
    r, k = reset.arrays["train_p_true"], kept.arrays["train_p_true"]
    assert np.array_equal(r[:4], k[:4])  # the first stage, and the start of the second, are the same
    assert not np.allclose(r[4:], k[4:])  # then the optimiser's moments from stage 0 change the updates
    for run in (reset, kept):  # both train the second string: its loss falls during its stage
        loss = run.metrics[(run.metrics.split == "train") & (run.metrics.string == 1)].set_index("epoch").loss
        assert loss.loc[6] < loss.loc[3]


def test_strings_not_trained_are_measured_at_eval_every_and_at_every_boundary(tiny_llama, strings):
    S = strings
    run = _run(tiny_llama, [Stage(S[0], epochs=5), Stage(S[1], epochs=3)], S[3:], eval_every=4)
    epochs = run.arrays["train_epochs"].tolist()
    measured = run.arrays["train_measured"]
    s1 = [e for e in epochs if measured[epochs.index(e), 1] and e <= 5]
    s0 = [e for e in epochs if measured[epochs.index(e), 0] and e >= 5]
    assert s1 == [0, 4, 5]  # S1 while S0 trains: eval_every (0, 4), then the boundary, where its stage starts
    assert s0 == [5, 8]  # S0 while S1 trains: the boundary (its stage's last), 8 (due, and the end)
    assert run.arrays["test_epochs"].tolist() == [0, 4, 5, 8]
    p = run.arrays["train_p_true"]
    assert np.isnan(p[~measured]).all() and not np.isnan(p[measured]).any()


def test_each_string_is_measured_against_its_own_alphabet(tiny_llama):
    import torch

    a = memlib.random_strings(3, 4, 10, seed=0)
    b = memlib.random_strings(3, 4, 10, seed=1, first_letter="m")
    run = _run(tiny_llama, [Stage(a[0], epochs=2), Stage(b[0], epochs=2)], [a[1], b[1]])
    assert run.config.train[1]["alphabet"] == "mnop"
    assert sorted(sequential.guess_curves(run).columns) == ["abcd", "mnop"]
    # at epoch 0 (the loaded weights), recompute b[0]'s alphabet mass over m-p and over all 8 letters
    ids = torch.tensor([tiny_llama.encode(b[0].text)])
    with torch.no_grad():
        logits = tiny_llama.model(input_ids=ids[:, :-1]).logits
    mass = {letters: memlib.token_metrics(logits, ids[:, 1:], torch.tensor(tiny_llama.letter_ids(letters)))
            ["alphabet_mass"].mean().item() for letters in ("mnop", "abcdmnop")}
    stored = run.metrics[(run.metrics.split == "train") & (run.metrics.epoch == 0)].set_index("string").alphabet_mass[1]
    assert stored == pytest.approx(mass["mnop"], rel=1e-5) and stored != pytest.approx(mass["abcdmnop"], rel=1e-3)


def _bad(tiny_llama, strings, tmp_path, stages, message, **kw):
    store = memlib.RunStore(tmp_path / "store")
    with pytest.raises(ValueError, match=message):
        expose_schedule(tiny_llama, stages, test_strings=kw.pop("test", strings[3:]), store=store, progress=False, **kw)
    assert not (tmp_path / "store").exists()


@pytest.mark.parametrize("make, message, kw", [
    (lambda S: [], r"stages=\[\] is not allowed", {}),
    (lambda S: Stage(S[0], epochs=1), "use a non-empty list of memlib.Stage", {}),
    (lambda S: [S[0]], r"stages\[0\]=RandomString.* is not allowed: use memlib.Stage", {}),
    (lambda S: [Stage(S[0], epochs=0)], r"stages\[0\] epochs=0 is not allowed: use an integer >= 1", {}),
    (lambda S: [Stage(S[0], epochs=2), Stage(S[1], epochs=-1)], r"stages\[1\] epochs=-1 is not allowed", {}),
    (lambda S: [Stage([], epochs=1)], r"stages\[0\] has strings=\[\]", {}),
    (lambda S: [Stage("", epochs=1)], r"stages\[0\] string '' is not allowed", {}),
    (lambda S: [Stage("ab1c", epochs=1)], r"stages\[0\] string 'ab1c' is not allowed.*\['1'\]", {}),
    (lambda S: [Stage([S[0], "abc"], epochs=1)], r"stages\[0\]_strings have lengths \[3, 10\]", {}),
    (lambda S: [Stage(S[0], epochs=1), Stage("abcd", epochs=1)], r"lengths \[4, 10\]: all strings of a schedule", {}),
    (lambda S: [Stage(S[0], until=0, max_epochs=3)], r"until=0 is not allowed: use an accuracy threshold in \(0, 1\]", {}),
    (lambda S: [Stage(S[0], until=1.5, max_epochs=3)], r"until=1.5 is not allowed", {}),
    (lambda S: [Stage(S[0], until=0.9)], r"max_epochs=None", {}),
    (lambda S: [Stage(S[0], epochs=3, until=0.9, max_epochs=3)], "give exactly one of them", {}),
    (lambda S: [Stage(S[0])], "give exactly one of them", {}),
    (lambda S: [Stage(S[0], until=0.9, hold=0, max_epochs=3)], r"hold=0 is not allowed", {}),
    (lambda S: [Stage([S[0], S[0]], epochs=1)], r"stages\[0\] strings list .* twice", {}),
    (lambda S: [Stage(S[0], epochs=1)], "is also a training string", {"test": "same"}),
    (lambda S: [Stage(S[0], epochs=1)], "eval_every='auto' is not allowed for a schedule", {"eval_every": "auto"}),
    (lambda S: [Stage(S[0], epochs=1)], "reset_optimizer=1 is not allowed", {"reset_optimizer": 1}),
    (lambda S: [Stage(S[0], epochs=1)], "lr=0 is not allowed", {"lr": 0}),
    (lambda S: [Stage(S[0], epochs=2, max_epochs=50)], "hold and max_epochs belong to until stages", {}),
    (lambda S: [Stage(S[0], epochs=2, hold=5)], "hold and max_epochs belong to until stages", {}),
    (lambda S: [Stage(S[0], until=0.5, hold=5, max_epochs=2)], r"hold=5 is not allowed with max_epochs=2", {}),
    (lambda S: [Stage(5, epochs=1)], r"stages\[0\] has strings=5", {}),
    (lambda S: [Stage([S[0], S[0], S[1]], epochs=1)], f"strings list '{memlib.random_strings(1, 4, 10, seed=2)[0].text}' twice", {}),
    (lambda S: [Stage(S[0], until=0.9, max_epochs=3)], "dropout=True is not allowed with until stages", {"dropout": True}),
    (lambda S: [Stage(S[0], epochs=1)], "test strings list .* twice", {"test": "twice"}),
])
def test_bad_schedules_are_refused_before_any_training(tiny_llama, strings, tmp_path, make, message, kw, no_training):
    if kw.get("test") == "same":
        kw = {**kw, "test": [strings[4], strings[0].text]}
    if kw.get("test") == "twice":
        kw = {**kw, "test": [strings[4], strings[4]]}
    _bad(tiny_llama, strings, tmp_path, make(strings), message, **kw)


def test_mixed_alphabets_in_one_stage_are_refused(tiny_llama, strings, tmp_path, no_training):
    other = memlib.random_string(4, 10, seed=5, first_letter="k")
    _bad(tiny_llama, strings, tmp_path, [Stage([strings[0], other], epochs=1)], r"stages\[0\] mixes alphabets")


def test_design_sweep_and_analyses(tiny_llama, tmp_path):
    def design(model, seed):
        # the slowest stage takes 36 epochs here, on every kernel set measured; a censored stage would change what
        # the equalities below compare, so the budget leaves room (stages stop once memorised: it costs nothing)
        return sequential.design(seed, alphabet_size=4, length=10, n_strings=2, n_test_strings=1, until=0.99, hold=1,
                                 max_epochs=100)

    runs = sweep.schedule_runs(["tiny-llama"], [0, 1], design, store=tmp_path, progress=False)
    assert list(runs) == ["sequence", "sequence, new string", "fresh S2", "after disjoint alphabet"]
    assert [len(v) for v in runs.values()] == [2, 2, 2, 2]  # every schedule once per seed
    (seq, seq1), (new, new1), (fresh, fresh1), (dis, _) = runs.values()
    S, S_1 = [d["text"] for d in seq.config.train], [d["text"] for d in seq1.config.train]
    assert not set(S) & set(S_1) and seq.config.test != seq1.config.test  # seeds share no string
    # ... and no initialisation: a random-weight model is drawn from the run's seed
    assert seq.config.model_fingerprint != seq1.config.model_fingerprint
    assert {r.config.model_fingerprint for r in (seq, new, fresh, dis)} == {seq.config.model_fingerprint}
    assert [s.strings for s in seq.config.stages] == [(0,), (1,), (0,)]  # S1, S2, S1 again
    assert [s.strings for s in new.config.stages] == [(0,), (1,), (2,)] and new.config.train[:2] == seq.config.train
    N = new.config.train[2]["text"]
    assert N not in S and fresh.config.train[0]["text"] == S[1]
    assert dis.config.train[1]["text"] == S[1]
    assert set(dis.config.train[0]["alphabet"]).isdisjoint(seq.config.train[0]["alphabet"])
    renamed = {a: b for a, b in zip("abcd", "efgh")}  # T1 is its own draw, not S1 or S2 over other letters
    assert dis.config.train[0]["text"] not in {"".join(renamed[c] for c in t) for t in S}
    again = sweep.schedule_runs(["tiny-llama"], [0, 1], design, store=tmp_path, progress=False)
    assert all(r.from_store for v in again.values() for r in v)
    one = sweep.schedule_runs(["tiny-llama"], {"tiny-llama": [1]}, design, store=tmp_path, progress=False)  # per model
    assert [r.key for v in one.values() for r in v] == [v[1].key for v in runs.values()]

    # the new-string control shares the model state before its last stage: checked from the measurements
    state = sequential.state_checks(runs)
    assert state.identical.all() and (state.compared > 0).all() and (state.max_difference == 0).all()
    other_seed = sequential.shared_state(seq, new1)  # another seed: not the same model
    assert not other_seed["identical"]

    stages = sequential.stage_table(runs)
    s = stages[(stages.condition == "sequence") & (stages.seed == 0)]
    assert s.occurrence.tolist() == [1, 1, 2] and s.alphabet_seen.tolist() == [False, True, True]
    assert s.first_memorised.iloc[2] == s.memorised.iloc[0]
    # each stage against the same string on a fresh model of the same seed: S1 is its own reference, S2 "fresh S2"
    assert s.fresh_memorised.tolist() == [s.memorised.iloc[0], fresh.arrays["stage_memorised"][0], s.memorised.iloc[0]]
    assert s.relative.iloc[0] == 1.0 and s.relative.iloc[1] == s.memorised.iloc[1] / s.fresh_memorised.iloc[1]
    relearn = sequential.relearning_table({"sequence": runs["sequence"]})
    assert len(relearn) == 2 and relearn.ratio.iloc[0] == pytest.approx(relearn.memorised.iloc[0] / s.memorised.iloc[0])
    rn = sequential.relearn_vs_new(stages).set_index("seed")
    assert rn.loc[0, "relearn"] == seq.arrays["stage_memorised"][2] and rn.loc[0, "new"] == new.arrays["stage_memorised"][2]
    assert rn.loc[0, "first"] == s.memorised.iloc[0] and rn.fresh_new.isna().all()  # no run trains N alone
    control = sequential.control_table(runs)
    c0 = control[control.seed == 0]
    assert c0.condition.tolist() == ["fresh", "after same alphabet", "after disjoint alphabet"]
    got = c0.set_index("condition").memorised
    assert got["fresh"] == fresh.arrays["stage_memorised"][0]
    assert got["after same alphabet"] == seq.arrays["stage_memorised"][1]
    assert got["after disjoint alphabet"] == dis.arrays["stage_memorised"][1]

    ret = sequential.retention_table({"sequence": [seq]})
    assert len(ret) == 2 * 3
    own = ret[(ret.status == "trained") & (ret.stage == ret.first_stage)]
    assert np.allclose(own.retention.dropna(), 1.0)
    assert ret[ret.status == "before"].retention.isna().all()
    acc = seq.metrics[(seq.metrics.split == "train")].set_index(["epoch", "string"]).accuracy
    for row in ret.itertuples():  # the matrix reads the stored metrics at the end of each stage
        assert row.accuracy == acc[(row.epoch, row.string)]
        assert row.epoch == seq.arrays["stage_bounds"][row.stage + 1]


def test_censored_median_counts_censored_stages_as_longest():
    assert sequential.censored_median([5, 7, np.nan], [False, False, True], [5, 7, 40]) == (7.0, False)
    assert sequential.censored_median([5, np.nan, np.nan], [False, True, True], [5, 40, 40]) == (40.0, True)
    assert sequential.censored_median([3, 9], [False, False], [3, 9]) == (6.0, False)
    assert sequential.censored_median([5, np.nan], [False, True], [5, 40]) == (22.5, True)  # a lower bound


def test_fresh_reference_needs_the_same_training_settings_and_censored_strings_have_no_retention(tiny_llama, strings):
    S = strings
    # an until stage stops once its threshold is held: 9 of 10 characters, reached within 14-33 epochs on every
    # kernel set measured (10 of 10 at this lr: 97-107 epochs, after a relapse whose length depends on the CPU)
    const = _run(tiny_llama, [Stage(S[0], until=0.9, max_epochs=200)], S[3:], lr=3e-3)
    linear = _run(tiny_llama, [Stage(S[0], until=0.9, max_epochs=200)], S[3:], lr=3e-3, lr_schedule="linear")
    assert not np.array_equal(const.arrays["train_p_true"][:5], linear.arrays["train_p_true"][:5])  # they differ ...
    t = sequential.stage_table([const, linear])
    assert not t.censored.any()
    np.testing.assert_array_equal(t.fresh_memorised, t.memorised)  # ... and each is its own reference
    np.testing.assert_array_equal(t.relative, [1.0, 1.0])
    cut = _run(tiny_llama, [Stage(S[0], until=1.0, max_epochs=2), Stage(S[1], epochs=2)], S[3:])
    ret = sequential.retention_table([cut])
    first = ret[ret.string == 0]
    assert first.first_censored.all() and first.retention.isna().all()


def test_schedule_sweep_checks_every_schedule_before_training(tiny_llama, strings, tmp_path, no_training):
    S = strings

    def design(model, seed):
        return {"fine": ([Stage(S[0], epochs=2)], list(S[3:])), "bad": ([Stage(S[0], epochs=1), Stage("abc", epochs=1)], [])}

    with pytest.raises(ValueError, match="all strings of a schedule must have one length"):
        sweep.schedule_runs(["tiny-llama"], [0], design, store=tmp_path / "store", progress=False)
    with pytest.raises(ValueError, match="no value for model 'tiny-llama'"):  # seeds per model, this one missing
        sweep.schedule_runs(["tiny-llama"], {"tiny-phi": [0]}, design, store=tmp_path / "store", progress=False)
    with pytest.raises(ValueError, match=r"give a pair \(stages, held-out strings\)"):
        sweep.schedule_runs(["tiny-llama"], [0], lambda m, s: {"x": [Stage(S[0], epochs=1)]}, store=tmp_path / "store",
                            progress=False)
    assert not (tmp_path / "store").exists()


def test_design_refuses_what_its_controls_cannot_do(tiny_llama):
    with pytest.raises(ValueError, match="n_strings=1 is not allowed with controls=True"):
        sequential.design(0, alphabet_size=4, length=8, n_strings=1, n_test_strings=1, max_epochs=3)
    with pytest.raises(ValueError, match="alphabet_size=14 is not allowed with controls=True"):
        sequential.design(0, alphabet_size=14, length=8, n_strings=2, n_test_strings=1, max_epochs=3)
    with pytest.raises(ValueError, match="not a schedule run"):
        sequential.stage_table([memlib.expose(tiny_llama, ["abab"], epochs=1, store=False, progress=False)])


def test_sequential_seeds_share_no_string():
    """Notebook 04's units are its seeds: no two seeds of a preset train or hold out a string in common."""
    from memlib import presets

    for name in presets.PRESETS["04_sequential_exposure"]:
        P = presets.resolve("04_sequential_exposure", name)
        seen = set()  # seeds per model: a seed is one unit of each model that runs it
        for seed in sorted({x for m in P.models for x in memlib.config.per_model(P.seeds, m)}):
            d = sequential.design(seed, alphabet_size=P.alphabet_size, length=P.length, n_strings=P.n_strings,
                                  n_test_strings=P.n_test_strings, max_epochs=3)
            trained = [x for stages, _ in d.values() for st in stages
                       for x in (st.strings if isinstance(st.strings, (list, tuple)) else [st.strings])]
            texts = {x.text for x in [*trained, *(x for _, test in d.values() for x in test)]}
            assert not texts & seen, (name, seed)
            seen |= texts
