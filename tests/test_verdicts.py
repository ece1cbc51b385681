"""The verdicts the notebooks print, as memlib functions: from real tiny runs (memorised, never memorised,
one seed) and from hand-made tables where a case is easier to build by hand (censored stages, single seeds)."""
import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

import memlib
from memlib import context, difficulty, exposure, extraction, labels, membership, milestones, phases, privacy, \
    sequential, stats, sweep


def test_span_and_plural():
    assert labels.span([3, float("nan"), 7]) == "3-7" and labels.span([2.0, 2.0]) == "2"
    assert labels.span([]) == "none" and labels.span([np.nan], none="never") == "never"
    assert labels.span([0.5, 0.25], "{:.2f}") == "0.25-0.50"
    assert labels.plural(1, "seed") == "1 seed" and labels.plural(3, "seed") == "3 seeds"


# --- notebook 04: sequential exposure ---------------------------------------------------------------------------

def test_a_censored_stage_is_longer_than_its_length():
    assert stats.direction(5, False, 10, 8, False, 10) == -1  # a faster than b
    assert stats.direction(8, False, 10, 8, False, 10) == 0
    assert stats.direction(math.nan, True, 10, 8, False, 20) == 1  # censored at 10 > memorised at 8
    assert stats.direction(math.nan, True, 10, 12, False, 20) is None  # censored at 10: maybe before 12, maybe not
    assert stats.direction(4, False, 10, math.nan, True, 6) == -1
    assert stats.direction(math.nan, True, 10, math.nan, True, 10) is None


def test_median_epochs_is_a_lower_bound_when_it_rests_on_censored_stages():
    s = pd.Series
    assert sequential.median_epochs(s([5.0, 7.0, 9.0]), s([False, False, False]), s([20, 20, 20])) == "7 (5-9)"
    one_censored = sequential.median_epochs(s([5.0, np.nan, 9.0]), s([False, True, False]), s([20, 30, 20]))
    assert one_censored == "9 (5-30, 1 of 3 censored)"  # the censored stage counts as the longest
    assert sequential.median_epochs(s([np.nan]), s([True]), s([30])) == "> 30 (30, 1 of 1 censored)"  # one seed


@pytest.fixture(scope="module")
def schedules(tiny_llama):
    def design(model, seed):
        # first-time stages here take at most 44 of 120 epochs on every kernel set measured; later stages (re-learning,
        # the never-seen N) 14-92, or censored at 120 on one: nothing below reads them beyond what censoring allows
        return sequential.design(seed, alphabet_size=4, length=8, n_strings=2, n_test_strings=2, max_epochs=120)

    def short(model, seed):  # too few epochs to memorise anything: every stage censored
        return sequential.design(seed, alphabet_size=4, length=8, n_strings=2, n_test_strings=2, max_epochs=1)

    kw = dict(lr=3e-3, store=False, progress=False)
    # seeds 0 and 1 share nothing: each has its own strings, initialisation and fresh-model reference for S2
    return sweep.schedule_runs(["tiny-llama"], [0, 1], design, **kw), sweep.schedule_runs(["tiny-llama"], [0], short, **kw)


def _sequence_verdict(runs):
    stages = sequential.stage_table(runs)
    seq = stages[stages.condition == sequential.SEQUENCE]
    return sequential.verdict(seq, sequential.relearning_table({sequential.SEQUENCE: runs[sequential.SEQUENCE]}),
                              sequential.retention_table({sequential.SEQUENCE: runs[sequential.SEQUENCE]}),
                              sequential.control_table(runs), sequential.relearn_vs_new(stages),
                              sequential.state_checks(runs)), seq


def test_sequential_verdict_states_each_stage_relearning_and_the_controls(schedules):
    lines, seq = _sequence_verdict(schedules[0])
    text = "\n".join(lines)
    assert lines[0].startswith("- **tiny-llama** (lr 3e-3, 2 seeds, each its own strings and initialisation): epochs to "
                               "memorise each new string")
    first = seq[seq.stage == 0].memorised
    assert f"S1: {first.median():.0f} ({first.min():.0f}-{first.max():.0f})" in lines[0] or first.nunique() == 1
    assert "Re-learning S1 after 1 other string" in text and "S2, epochs to memorise: fresh" in text
    assert "censored" not in lines[0]
    assert "(re-learning / first time: median ratio" in text and "n=2" in text
    assert "S2 after disjoint alphabet / after same alphabet: median ratio" in text
    assert "Reading: neither reading: S2 is not measurably faster or slower" in text
    assert "At stage 3, after the same 2 strings: S1 again" in text and "a never-seen string N" in text
    assert "The model was the same when that stage started in 2 of 2 seeds" in text and "largest loss difference 0)" in text
    assert "S1 again / N (what having seen S1 adds" in text and "N there / N on a fresh model" not in text  # no fresh N
    assert text.count(": not established") == 3 and ": established" not in text  # two seeds establish nothing
    # one family: 3 primary tests (S2 / fresh, re-learning, S1 again / N), Holm-adjusted; the controls exploratory
    assert text.count("Holm-adjusted over 3 primary tests") == 3 and text.count("(exploratory)") == 3


def test_sequential_verdict_of_censored_stages_says_so_and_never_claims_a_direction(schedules):
    lines, seq = _sequence_verdict(schedules[1])
    assert seq.censored.all()
    text = "\n".join(lines)
    assert "> 1 (1, 1 of 1 censored)" in lines[0] and "censored stages at their length" in lines[0]
    assert "faster in 0, slower in 0, as fast in 0, undetermined in 1 (censored); 1 censored" in text  # S2 vs S1: both
    assert ": established" not in text


# --- notebook 03: local prefix and global context ---------------------------------------------------------------

@pytest.fixture(scope="module")
def probed(tiny_llama):
    """Two lengths, two seeds, probes when memorised and 4 epochs after, at a subset of positions; and a run that
    never memorises."""
    spec = memlib.ProbeSpec(at=("memorised", "memorised+4"), replace=("random", "shuffled"), replace_ks=(2, 4), draws=2,
                            shifts=(1, 2), positions=4)
    common = dict(n_train_strings=1, n_test_strings=0, probes=spec, store=False, progress=False)
    memorised = [r for length in (12, 20) for r in sweep.grid_runs(["tiny-llama"], [0, 1], grid=[{"alphabet_size": 4}],
                                                                    length=length, epochs=120, lr=3e-3, **common)]
    never = sweep.grid_runs(["tiny-llama"], [0], grid=[{"alphabet_size": 4}], length=12, epochs=6, lr=1e-4, **common)
    return memorised + never


def test_probes_verdict_states_each_length_and_runs_that_never_memorised(probed):
    status = context.status_table(probed)
    assert status.memorised_at.notna().tolist() == [True] * 4 + [False], status
    table = context.recall_table(probed)
    chars = pd.concat([context.character_table(r, "memorised") for r in probed[:4]], ignore_index=True)
    with pytest.raises(ValueError, match=r"have several lengths: give common="):  # lengths compared over all positions
        context.verdict(table, status, context.character_summary(chars), compare_alphabet_size=4, headline_k=4)
    common = context.recall_table(probed, below=12)
    lines = context.verdict(table, status, context.character_summary(chars), common=common, compare_alphabet_size=4,
                           headline_k=4)
    text = "\n".join(lines)
    assert "- **tiny-llama, lr 1e-4**: 1 run(s) never memorised their string" in text
    assert "- **tiny-llama, lr 3e-3**, just memorised (epochs" in text and "(i > k; medians over seeds)" in text
    assert "12 characters, 4 letters (guessing 0.25): full " in text and "20 characters, 4 letters" in text
    for length in (12, 20):  # one reading per length, from the share kept in place, seed by seed
        line = next(x for x in lines if x.startswith(f"- **tiny-llama, lr 3e-3, {length} characters** (4 letters"))
        assert "2 seeds: full-context recall" in line and "At k = 4 (" in line and "reads per run)" in line
        assert "what the global context adds (full - kept in place, seed by seed): median difference" in line
        assert "what keeping their place adds (kept in place - moved to the start, seed by seed): median difference" in line
        assert f"Reading at {length} characters: " in line
    assert ("- Length, **tiny-llama, lr 3e-3**, 4 letters: share of full recall kept by k = 4 characters in place, "
            "20 - 12 characters, over the same positions (5-11; ") in text
    length = next(x for x in lines if x.startswith("- Length, "))
    assert "reads per run at 20 characters), paired by seed (the shorter string is the longer one's start)" in length
    # the contrast is over positions 5-11 at both lengths: the longer runs' shares from `common`, not from `table`
    shared = context.kept_table(common, "memorised")
    long, short = (shared[(shared.length == n) & (shared.k == 4)].set_index("seed").share for n in (20, 12))
    diff = float(np.median((long - short).dropna()))
    assert f"median difference {diff:.2f}" in length
    assert "n too small for an interval" in length and length.endswith(": not established.")  # 2 seeds: no interval
    assert "memorised + 4 epochs - just memorised, seed by seed: median difference" in text
    more = next(x for x in lines if x.startswith("- More exposure, "))
    assert more.endswith("(exploratory).") and ": established" not in text  # two seeds establish nothing
    # one family: per length the share against one half, and the share across lengths (3 primary tests)
    assert text.count("Holm-adjusted over 3 primary tests") == 3
    assert "the whole true prefix with m random letters in front" in text
    assert lines[-1].startswith("- tiny-llama, lr 3e-3, 20 characters, 4 letters, just memorised: ")
    assert "of the characters read are recalled from a local prefix" in lines[-1]
    assert "Pretraining" not in text  # no random-weight twin among these runs


def test_probes_verdict_compares_a_model_with_its_random_weights_seed_by_seed(probed):
    table, status = context.recall_table(probed[:2]), context.status_table(probed[:2])
    twin = "tiny-llama-random, lr 3e-3"  # the same runs, relabelled: the pairing and the contrast's path, not a result
    table = pd.concat([table, table.assign(setting=twin, model="tiny-llama-random")], ignore_index=True)
    status = pd.concat([status, status.assign(setting=twin, model="tiny-llama-random")], ignore_index=True)
    lines = context.verdict(table, status, pd.DataFrame(), compare_alphabet_size=4)
    pre = [line for line in lines if line.startswith("- Pretraining, 12 characters, 4 letters")]
    assert len(pre) == 2 and "(pretrained - random, seed by seed: median difference 0.00 (n=2: n too small for an " \
        "interval)" in pre[-1]
    assert pre[-1].endswith("sign test p = 1 (exploratory)).")


def test_probes_verdict_sets_models_against_the_first_seed_by_seed_when_asked(probed):
    table, status = context.recall_table(probed[:2]), context.status_table(probed[:2])
    other = "tiny-phi, lr 3e-3"  # the same runs, relabelled: the pairing and the contrast's path, not a result
    table = pd.concat([table, table.assign(setting=other, model="tiny-phi")], ignore_index=True)
    status = pd.concat([status, status.assign(setting=other, model="tiny-phi")], ignore_index=True)
    alone = "\n".join(context.verdict(table, status, pd.DataFrame(), compare_alphabet_size=4))
    assert "- Models, " not in alone and alone.count("Holm-adjusted over 2 primary tests") == 2
    lines = context.verdict(table, status, pd.DataFrame(), compare_alphabet_size=4,
                            between=["tiny-llama, lr 3e-3", other])
    line = next(x for x in lines if x.startswith("- Models, 12 characters, 4 letters"))
    assert ("**tiny-phi, lr 3e-3** - **tiny-llama, lr 3e-3**, seed by seed on the same strings: median difference "
            "0.00 (n=2: n too small for an interval)") in line
    assert "Holm-adjusted over 3 primary tests p = " in line and line.endswith(": not established.")


def test_probes_verdict_names_the_alphabet_where_a_setting_has_several_and_says_what_it_could_not_compare(probed):
    table, status = context.recall_table(probed[:2]), context.status_table(probed[:2])
    s, other = "tiny-llama, lr 3e-3", "tiny-phi, lr 3e-3"  # relabelled runs: the names' path, not a result
    table = pd.concat([table, table.assign(alphabet_size=5)], ignore_index=True)
    status = pd.concat([status, status.assign(alphabet_size=5)], ignore_index=True)
    table = pd.concat([table, table[table.alphabet_size == 4].assign(setting=other, model="tiny-phi")], ignore_index=True)
    status = pd.concat([status, status[status.alphabet_size == 4].assign(setting=other, model="tiny-phi")],
                       ignore_index=True)
    lines = context.verdict(table, status, pd.DataFrame(), compare_alphabet_size=4, between=[s, other])
    names = [row["name"] for row in lines.family.rows()]
    for size in (4, 5):  # one test per alphabet size, not one name stated twice
        assert f"{s}, 12 characters, {size} letters: share kept in place against one half" in names
        assert f"{s}, 12 characters, {size} letters: share kept in place, memorised+4 - memorised" in names
    assert f"{other}, 12 characters: share kept in place against one half" in names  # one size: no letters
    assert f"{other} - {s}, 12 characters, 4 letters: share kept in place" in names
    assert lines.family.primary_names == [n for n in names if n.endswith(("one half", "share kept in place"))]
    assert ("- Models, 12 characters, 5 letters: **tiny-phi, lr 3e-3** and **tiny-llama, lr 3e-3** not compared: "
            "probes on 0 seeds of both, 2 needed.") in lines


def test_twin_settings_pair_a_model_with_its_random_weights_at_equal_rates_only():
    status = pd.DataFrame({"setting": ["a, lr 1e-4", "a-random, lr 1e-4", "a-random, lr 1e-3", "b, lr 1e-4"],
                           "model": ["a", "a-random", "a-random", "b"], "lr": [1e-4, 1e-4, 1e-3, 1e-4]})
    assert context.twin_settings(status) == [("a, lr 1e-4", "a-random, lr 1e-4")]


# --- notebook 05: extraction, exposure, membership ---------------------------------------------------------------

@pytest.fixture(scope="module")
def privacy_runs(tiny_llama):
    train, test = sweep.split_strings(0, alphabet_size=4, length=12, n_train=1, n_test=21)
    at = [0, 10, 30]
    spec = extraction.extraction_spec(12, at)
    kw = dict(test_strings=test, eval_every=at, probes=spec, store=False, progress=False)
    memorised = memlib.expose(tiny_llama, train, epochs=30, lr=3e-3, **kw)
    never = memlib.expose(tiny_llama, train, epochs=30, lr=1e-5, **kw)
    return [memorised, never]


def test_privacy_verdict_says_never_for_marks_a_run_did_not_reach(privacy_runs):
    x = extraction.extraction_table(privacy_runs, k=3, n=3)
    ex, mi, on = exposure.exposure_table(privacy_runs), membership.membership_table(privacy_runs), privacy.onset_table(privacy_runs)
    marks = privacy.milestones(privacy_runs, x, ex, mi)
    lines = privacy.verdict(x, ex, mi, marks, on, privacy.onset_summary(on), length=12, k=3, n=3)
    text = "\n".join(lines)
    assert lines[0].startswith("- Check of the exposure estimate on held-out strings")
    fast, slow = (f"tiny-llama, lr {r}, 4 letters" for r in ("3e-3", "1e-5"))
    assert f"- **{fast}" in text and f"- **{slow}" in text and "(1 run)" in text
    slow_line = next(line for line in lines if line.startswith(f"- **{slow}") and "accuracy with the true prefix" in line)
    assert "reaches 0.5 / 0.9 / 1 at epochs never (0 of 1 runs; the others never) / never" in slow_line
    assert privacy.status_table(privacy_runs).seed.tolist() == [0, 0]


# --- notebook 01: phases -----------------------------------------------------------------------------------------

def test_phases_verdict_per_model_held_out_and_order(tiny_llama):
    kw = dict(alphabet_size=4, length=12, n_train_strings=1, n_test_strings=2, store=False, progress=False)
    runs = sweep.exposure_runs(["tiny-llama"], [0, 1], epochs=100, lr=3e-3, **kw)  # 99% here at epochs 36 and 24
    runs += sweep.exposure_runs(["tiny-pythia"], [0], epochs=2, lr=1e-5, **kw)  # never memorises: "not reached"
    per_model = phases.model_summary(milestones.phase_table(runs))
    guess = max(runs[0].config.train[0]["probs"])
    order = phases.position_order(runs[0])
    rhos = [phases.position_order(r)["rho"] for r in runs[:2]]
    lines = phases.verdict(per_model, memlib.store.metrics_table(runs), guess_level=guess, models=["tiny-llama", "tiny-pythia"],
                           order=order, run=runs[0], rhos=rhos)
    assert lines[0].startswith("- **tiny-llama**") and "memorised (accuracy >= 0.99 held 2 epochs) in 2/2 runs, from epoch" in lines[0]
    assert "99% accuracy at not reached" not in lines[0]
    assert ("50% / 90% / 99% accuracy at not reached / not reached / not reached; memorised (accuracy >= 0.99 held 2 "
            "epochs) in 0/1 runs." in lines[1])
    assert lines[-1].startswith("  - The same correlation over every seed of tiny-llama: median ")
    assert "(n=2: n too small for an interval)" in lines[-1] and lines[-1].endswith(": not established.")  # n=2
    assert lines[2].startswith("- Held-out strings end at accuracy")
    assert lines[-2].startswith("- Memorisation order (tiny-llama, seed 0)") and f"{order['rho']:.2f}" in lines[-2]
    assert order["correct"].shape == (101, 12)


def test_twin_contrasts_pair_pretrained_and_random_runs_by_seed_with_censoring():
    rows = []
    for seed in range(6):
        rows.append(dict(pair="m", lr=1e-4, seed=seed, init="pretrained", guess_end=4.0, mem_end=20.0 + seed,
                         last_epoch=30))
        rows.append(dict(pair="m", lr=1e-4, seed=seed, init="random", guess_end=np.nan, mem_end=np.nan,
                         last_epoch=40))  # never learnt nor memorised within 40 epochs: censored, "longer than 40"
        rows.append(dict(pair="m", lr=5e-4, seed=seed, init="random", guess_end=8.0, mem_end=30.0 + seed,
                         last_epoch=40))  # at its own rate the twin gets there
    table = pd.DataFrame(rows)
    c = phases.twin_contrasts(table)[("m", 1e-4, 1e-4)]
    assert c["mem_end"].lower == 6 and c["mem_end"].censored == 6 and c["mem_end"].p < 0.05
    assert c["guess_end"].interval.estimate == pytest.approx(0.1)  # 4 against (at least) 40
    assert c["mem_end"].established
    own = phases.twin_contrasts(table, {"m": 1e-4, "m-random": 5e-4})[("m", 1e-4, 5e-4)]
    assert own["guess_end"].interval.estimate == pytest.approx(0.5) and own["mem_end"].censored == 0
    assert set(phases.twin_contrasts(table)) == {("m", 1e-4, 1e-4)}  # no own rates given: equal rates only
    # the family: each at its own rate primary, both at a shared rate exploratory
    lines = phases.pretrained_vs_random_lines(phases.rate_summary(table.assign(
        model=lambda d: np.where(d.init == "random", "m-random", "m"), distinct_guessing=0, mem_start=np.nan,
        epochs_to_50=np.nan, epochs_to_90=np.nan, epochs_to_99=np.nan, final_accuracy=1.0, final_alphabet_mass=1.0)),
        table, None, {"m": 1e-4, "m-random": 5e-4})
    assert any("each at its own rate (lr 1e-4 / 5e-4)" in x for x in lines) and any("both at lr 1e-4" in x for x in lines)


# --- notebook 02: string difficulty ------------------------------------------------------------------------------

def _difficulty_rows(n_seeds, censored_first=False):
    rows = []
    for size, h in ((4, 1.0), (4, 1.5), (8, 1.0), (8, 2.0)):  # all below log2(size): non-uniform
        for seed in range(n_seeds):
            e90 = 10 + 5 * h + seed
            rows.append({"model": "m", "family": "exponential", "alphabet_size": size, "entropy": h, "seed": seed,
                         "guess_accuracy": 1 / 2 ** h, "epochs_to_90": e90, "censored_90": False, "auc": 1 - e90 / 60,
                         "gain_norm_auc": 0.5 - h / 10, "final_accuracy": 1.0, "last_epoch": 40})
    if censored_first:
        rows[0].update(epochs_to_90=40, censored_90=True, final_accuracy=0.7)
    return pd.DataFrame(rows)


def test_difficulty_verdict_setting_by_setting_with_one_seed_and_a_censored_run():
    table = _difficulty_rows(1, censored_first=True)
    terms, fitted = difficulty.fits(table, ["m"])
    assert fitted is None  # 4 runs cannot carry a two-term fit with its interval
    lines = difficulty.verdict(table, ["m"], length=32, per_setting=difficulty.setting_summary(table), terms=terms,
                               fitted=fitted, families=difficulty.family_check(table, [0]))
    text = "\n".join(lines)
    assert lines[0] == "**m** (4 runs, 32 characters, 40 epochs):"
    assert "90% not reached within 40 epochs in 1 of 1 runs (final accuracy 0.70)" in text
    assert "- runs not reaching 90% within 40 epochs: 1 of 4." in text
    assert "exponential family (4 non-uniform runs): Spearman(entropy, epochs to 90%) = " in text
    assert "(permutation p = " in text and "(exploratory)" in text and "established" not in text  # a robustness read


def test_difficulty_verdict_with_a_fit_states_each_effect_with_its_interval():
    table = _difficulty_rows(4)
    terms, fitted = difficulty.fits(table, ["m"])
    assert terms["m"] == ["entropy", "log2_alphabet"] and set(fitted.y) == set(difficulty.MEASURES)
    lines = difficulty.verdict(table, ["m"], length=32, per_setting=difficulty.setting_summary(table), terms=terms,
                               fitted=fitted, families=difficulty.family_check(table, []))
    ep = next(line for line in lines if line.startswith("- epochs to 90% train accuracy"))
    assert "entropy +5.000 per bit [95% CI" in ep and "n=16 runs], p = " in ep and "alphabet size" in ep
    assert ep.count("Holm-adjusted over 4 primary tests") == 2 and ": established;" in ep  # primary: epochs, gain
    guess = next(line for line in lines if line.startswith("- guessing level"))
    assert guess.count("(exploratory)") == 2 and "established" not in guess


def _two_models(n_seeds=2):
    """Model "b" against "a" on the same strings: b needs 3 more epochs and 2 more per bit of entropy, and its
    normalised gain runs against a's (each string's seed decides the order)."""
    a = _difficulty_rows(n_seeds).assign(model="a")
    b = a.assign(model="b", epochs_to_90=a.epochs_to_90 + 3 + 2 * a.entropy,
                 gain_norm_auc=1 - a.gain_norm_auc + 0.01 * a.seed)
    return pd.concat([a, b.iloc[::-1]], ignore_index=True)  # b's rows in another order: pairs are matched, not zipped


def test_two_models_are_compared_string_by_string():
    table = _two_models(4)
    orders = difficulty.cross_model(table, ["a", "b"])
    assert list(orders.columns) == difficulty.ORDER_COLUMNS and len(orders) == 4
    assert list(orders.scope) == ["strings", "within settings"] * 2
    strings = orders[orders.scope == "strings"]
    assert list(strings.y) == list(difficulty.ORDER_MEASURES)
    ep = strings.set_index("y").loc["epochs_to_90"]
    assert ep.rho > 0.95 and ep.n == 16 and ep.low > 0.8  # b's epochs rise with a's, string by string
    assert strings.set_index("y").loc["gain_norm_auc"].rho < -0.8
    within = orders[orders.scope == "within settings"]  # every setting's seeds 1 and 0 differ alike: rho undefined
    assert (within.n == 4).all() and within.rho.isna().all()
    assert difficulty.cross_model(table, ["a"]).empty
    diffs = difficulty.slope_differences(table, "a", "b").set_index(["y", "term"])
    assert diffs.loc[("epochs_to_90", "entropy")].coef == pytest.approx(2.0)  # b - a = 3 + 2 * entropy
    assert diffs.loc[("epochs_to_90", "intercept")].coef == pytest.approx(3.0)
    lines = difficulty.verdict(table, ["a", "b"], length=32, per_setting=difficulty.setting_summary(table),
                               terms=difficulty.fits(table, ["a", "b"])[0], fitted=difficulty.fits(table, ["a", "b"])[1],
                               families=difficulty.family_check(table, []), orders=orders)
    assert "**Models against each other**, on the strings both trained on" in lines[-4]
    line = next(x for x in lines if x.startswith("- **b against a**: "))
    assert "by epochs to 90% Spearman rho +0.99 [95% CI" in line and "n=16 strings]" in line
    assert line.count("Holm-adjusted over 10 primary tests") == 2  # 4 per model and 2 orderings
    assert ": established" in line.split(";")[0]
    slope = next(x for x in lines if x.startswith("  - epochs to 90%, b minus a"))
    assert "entropy +2.000 per bit" in slope and "(exploratory)" in slope


def test_the_cross_model_figure_draws_every_string_hollow_where_one_run_is_censored():
    table = _two_models(2)
    censored = (table.model == "b") & (table.alphabet_size == 8)
    table.loc[censored, ["epochs_to_90", "censored_90"]] = [40, True]
    fig = difficulty.plot_cross_model(table, ["a", "b"])
    left = fig.axes[0]
    filled, hollow = left.collections[0].get_offsets(), left.collections[1].get_offsets()
    assert len(filled) + len(hollow) == 8 and len(hollow) == censored.sum() == 4
    assert sorted(hollow[:, 1]) == [40] * 4  # b's censored runs at their length
    assert len(fig.axes[1].collections[0].get_offsets()) == 8  # the gain: every string filled
    plt.close(fig)
    terms, fitted = difficulty.fits(table, ["a", "b"])
    lines = difficulty.verdict(table, ["a", "b"], length=32, per_setting=difficulty.setting_summary(table), terms=terms,
                               fitted=fitted, families=difficulty.family_check(table, []),
                               orders=difficulty.cross_model(table, ["a", "b"]))
    assert next(x for x in lines if x.startswith("- **b against a**: ")).endswith(
        " (4 of 8 strings did not reach 90% in one of the two runs: counted at the run's length, a lower bound)")


def test_within_settings_takes_each_settings_first_two_seeds_and_is_exploratory():
    rows = [{"model": m, "family": "exponential", "alphabet_size": 4, "entropy": h, "seed": seed,
             "epochs_to_90": 10 + seed * (h * 10 if m == "a" else h * 10 + 1) + (m == "b") * 3,
             "gain_norm_auc": 0.5, "censored_90": False}
            for m in ("a", "b") for h in (0.5, 1.0, 1.5, 1.8, 1.9) for seed in (2, 0, 1)]  # seeds out of order
    table = pd.DataFrame(rows)
    a, b = difficulty.paired_strings(table, "a", "b")
    assert difficulty.within_settings(a, "epochs_to_90").tolist() == pytest.approx([5, 10, 15, 18, 19])  # 1 - 0
    orders = difficulty.cross_model(table, ["a", "b"]).set_index(["y", "scope"])
    within = orders.loc[("epochs_to_90", "within settings")]
    assert within.n == 5 and within.rho == pytest.approx(1.0)  # b's own-string differences rank as a's
    fam = memlib.stats.Family(difficulty.PRIMARY)
    difficulty.order_lines(table, orders.reset_index(), fam)
    assert "b against a: strings ordered by epochs_to_90 within settings" in fam.p
    assert not fam.is_primary("b against a: strings ordered by epochs_to_90 within settings")


def test_models_without_shared_strings_or_with_repeated_ones_are_refused_or_empty():
    table = _two_models(2)
    repeated = pd.concat([table, table[table.model == "b"].head(1)], ignore_index=True)
    with pytest.raises(ValueError, match="model 'b' has several runs of one string setting and seed"):
        difficulty.cross_model(repeated, ["a", "b"])
    apart = table.assign(seed=np.where(table.model == "b", table.seed + 10, table.seed))
    orders = difficulty.cross_model(apart, ["a", "b"])
    assert (orders.n == 0).all() and orders.rho.isna().all()
    terms, fitted = difficulty.fits(apart, ["a", "b"])
    lines = difficulty.verdict(apart, ["a", "b"], length=32, per_setting=difficulty.setting_summary(apart),
                               terms=terms, fitted=fitted, families=difficulty.family_check(apart, []), orders=orders)
    assert lines[-1] == ("- **b against a**: by epochs to 90%: rho undefined (0 strings, or one side constant), not "
                         "tested; by epochs to 90% within settings (each setting's second seed minus its first): rho "
                         "undefined (0 settings, or one side constant), not tested; by normalised memorisation gain: "
                         "rho undefined (0 strings, or one side constant), not tested; by normalised memorisation gain "
                         "within settings (each setting's second seed minus its first): rho undefined (0 settings, or "
                         "one side constant), not tested.")
