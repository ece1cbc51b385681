"""Candidates for exposure and membership (memlib.candidates, memlib.privacy's many-member tables), on real tiny
models: importance-sampled exposure against exact enumeration, permutations, TPR at a given FPR."""
import math
from collections import Counter

import numpy as np
import pytest
from scipy import stats

import memlib
from memlib import candidates, exposure, membership, privacy, sweep
from memlib.config import ProbeSpec

SPEC = dict(ks=(0,), replace=(), shifts=(), draws=1)


@pytest.fixture(scope="module")
def enumerated_runs():
    """Two tiny-llama runs (two seeds: other strings, other samples), 4 members of 6 letters over 4 letters each,
    with 1,000 importance samples, every one of the 4,096 strings enumerated, and 16 permutations per member,
    at the loaded model, part-way and at the end."""
    spec = ProbeSpec(at=(0, 12, 40), **SPEC, permuted=16, samples=1000, enumerate=True)
    return sweep.grid_runs(["tiny-llama"], [0, 1], [{"alphabet_size": 4}], length=6, n_train_strings=4,
                           n_test_strings=30, epochs=40, lr=1e-3, eval_every=[0, 12, 40], probes=spec,
                           precision="fp32", store=False, progress=False)


def test_importance_sampled_exposure_matches_exact_enumeration_within_its_interval(enumerated_runs):
    t = exposure.measured_exposure_table(enumerated_runs)
    assert len(t) == 2 * 3 * 4 and t.exact.notna().all() and t.measured.notna().all()
    inside = (t.measured_low <= t.exact) & (t.exact <= t.measured_high)
    # a 95% interval covers the truth in about 95% of cases; a wrong estimator (a missing weight, a biased
    # proposal) misses most of them (a loss that ignores the weights is several bits off at the end)
    assert inside.mean() >= 0.85, t[~inside][["epoch", "string", "exact", "measured", "measured_low", "measured_high"]]
    half = (t.measured_high - t.measured_low) / 2
    assert (np.abs(t.measured - t.exact) <= 2.5 * half).all()
    # trained strings go beyond what 30 counted candidates resolve (4.95 bits), up to the 12 bits of 4,096 strings
    end = t[t.epoch == 40]
    assert end.exact.max() > 8 and (end.fresh <= math.log2(31) + 1e-9).all()


def test_the_interval_shrinks_with_more_samples(enumerated_runs):
    run = enumerated_runs[0]
    c = run.candidates(12)
    widths = []
    for n in (250, 1000):
        t = candidates.tail_probability(c["member_loss"][0], c["sampled_loss"][:n], c["sampled_log_weight"][:n])
        widths.append(t["exposure_high"] - t["exposure_low"])
    assert widths[1] < widths[0] * 0.75


def test_weights_are_bounded_by_the_data_share_and_average_one(enumerated_runs):
    c = enumerated_runs[0].candidates(40)
    w = np.exp(c["sampled_log_weight"])
    assert w.max() <= 1 / 0.2 + 1e-9
    assert w.mean() == pytest.approx(1.0, abs=0.15)  # E_q[p/q] = 1
    assert set(np.unique(c["sampled_component"])) <= {-1, 0, 1}


def test_exact_tail_sums_the_data_probability_of_every_string_at_or_below_the_threshold():
    loss = np.array([0.5, 1.0, 1.0, 2.0])
    log2_p = np.log2([0.1, 0.2, 0.3, 0.4])
    assert candidates.exact_tail(1.0, loss, log2_p) == pytest.approx(0.6)
    assert candidates.exact_tail(0.1, loss, log2_p) == 0.0


def test_tail_probability_without_a_hit_says_so():
    t = candidates.tail_probability(0.0, np.array([1.0, 2.0]), np.zeros(2))
    assert t["hits"] == 0 and t["p"] == 0.0 and math.isnan(t["exposure"])


def test_permutations_keep_the_letter_counts_and_never_give_the_string_itself():
    text = "abcabcaab"
    perms = candidates.permutations(text, 200, seed=3)
    assert len(perms) == 200 and text not in perms
    assert all(Counter(p) == Counter(text) for p in perms)
    assert perms == candidates.permutations(text, 200, seed=3) and perms != candidates.permutations(text, 200, seed=4)
    assert candidates.distinct_permutations("aab") == 3
    assert set(candidates.permutations("aab", 50, seed=0)) == {"aba", "baa"}
    with pytest.raises(ValueError, match="no other arrangement"):
        candidates.permutations("aaaa", 3, seed=0)


def test_permuted_candidates_in_a_run_are_its_strings_rearranged(enumerated_runs):
    run = enumerated_runs[0]
    for j, d in enumerate(run.config.train):
        perms = candidates.permutations(d["text"], 16, seed=run.config.probes.seed + j)
        assert all(Counter(p) == Counter(d["text"]) and p != d["text"] for p in perms)
        assert run.probe(40, j)["permuted_loss"].shape == (16,)


def test_tpr_at_fpr_on_hand_made_scores():
    non = np.arange(1.0, 201.0)  # 200 non-members; 1% may flag 2 of them (scores 1 and 2)
    t = membership.tpr_at_fpr([0.5, 2.5, 3.0, 10.0], non, 0.01)
    assert t["measurable"] and t["tpr"] == 0.5 and t["fpr_reached"] == pytest.approx(0.01) and t["needed"] == 100
    ci = stats.binomtest(2, 4).proportion_ci(0.95, method="exact")  # Clopper-Pearson over the 4 members
    assert (t["tpr_low"], t["tpr_high"]) == pytest.approx((ci.low, ci.high)) and t["tpr_low"] < 0.5 < t["tpr_high"]
    # a member tied with the threshold (the third-lowest non-member) is not flagged: flagging it would flag a third
    assert membership.tpr_at_fpr([3.0], non, 0.01)["tpr"] == 0.0
    # ties among non-members: the threshold is the third-lowest score whatever ties it
    assert membership.tpr_at_fpr([1.5], [1.0, 1.0, 1.0] + [5.0] * 197, 0.01)["tpr"] == 0.0
    # 200 non-members cannot measure 0.1%: not measurable, never a TPR at zero false positives
    t = membership.tpr_at_fpr([0.5], non, 0.001)
    assert not t["measurable"] and math.isnan(t["tpr"]) and t["needed"] == 1000
    assert membership.needed_non_members(0.01) == 100 and membership.needed_non_members(0.001) == 1000
    for bad in (0, 0.0, 1, 1.5, -0.1, True):
        with pytest.raises(ValueError, match="is not allowed"):
            membership.tpr_at_fpr([0.5], non, bad)


def test_attack_table_reports_both_candidate_kinds_and_not_measurable_rates(enumerated_runs):
    t = membership.attack_table(enumerated_runs)
    assert set(t.against) == {"fresh", "permuted"} and set(t.score) == {"loss", "calibrated"}
    assert (t.members == 8).all()
    fresh = t[t.against == "fresh"]
    assert (fresh.non_members == 60).all() and fresh["tpr_0.01"].isna().all()  # 60 held-out strings: 1% needs 100
    permuted = t[t.against == "permuted"]
    assert (permuted.non_members == 128).all() and permuted["tpr_0.01"].notna().all() and permuted["tpr_0.001"].isna().all()
    # at the loaded model the calibrated score is 0 for every string: AUC exactly one half
    assert (t[(t.epoch == 0) & (t.score == "calibrated")].auc == 0.5).all()
    assert t[(t.epoch == 40) & (t.against == "fresh") & (t.score == "loss")].auc.iloc[0] > 0.9


def test_skew_normal_fit_is_scipys_maximum_likelihood_fit_and_its_tail_agrees_with_scipys_cdf():
    x = stats.skewnorm.rvs(4.0, loc=2.0, scale=0.5, size=2000, random_state=np.random.default_rng(0))
    xi, omega, alpha = exposure.skewnorm_fit(x)
    a, loc, scale = stats.skewnorm.fit(x)
    assert (xi, omega, alpha) == pytest.approx((loc, scale, a), rel=1e-9)
    assert (xi, omega) == pytest.approx((2.0, 0.5), abs=0.05) and alpha == pytest.approx(4.0, rel=0.3)
    for v in (1.9, 2.0, 2.5, 3.5):  # where scipy's CDF keeps its digits
        assert exposure.skewnorm_logcdf(v, xi, omega, alpha) == pytest.approx(stats.skewnorm.logcdf(v, a, loc, scale),
                                                                             rel=1e-4, abs=1e-6)


def test_bad_candidate_arguments_are_refused_before_any_work(tiny_llama):
    with pytest.raises(ValueError, match="probability 0"):
        candidates.importance_sample(tiny_llama, "abc", [0.5, 0.5, 0.0], 4, 10)
    with pytest.raises(ValueError, match="data_share"):
        candidates.importance_sample(tiny_llama, "abc", [0.2, 0.3, 0.5], 4, 10, data_share=0.0)
    with pytest.raises(ValueError, match="enumeration is allowed up"):
        candidates.enumerate_strings(tiny_llama, "abcdefgh", [1 / 8] * 8, 8)
    with pytest.raises(ValueError, match="samples=0"):
        ProbeSpec(at=(0,), samples=0).resolved(8, 10)
    with pytest.raises(ValueError, match="temperatures=\\(1.0,\\) and data_share=None .* set samples too"):
        ProbeSpec(at=(0,), temperatures=(1.0,)).resolved(8, 10)
    # enumeration too large for the run's strings: refused before the first model loads
    big = ProbeSpec(at=(0,), **SPEC, enumerate=True)
    with pytest.raises(ValueError, match="enumerate=True is not allowed"):
        sweep.grid_runs(["tiny-llama"], [0], [{"alphabet_size": 8}], length=12, n_train_strings=2, n_test_strings=0,
                        epochs=2, lr=1e-3, eval_every=[0, 2], probes=big, store=False, progress=False)
    # one run's strings from two distributions cannot share importance samples
    two = [memlib.random_string(4, 6, seed=1), memlib.random_string(5, 6, seed=2)]
    with pytest.raises(ValueError, match="one distribution"):
        memlib.expose(tiny_llama, two, epochs=2, lr=1e-3, probes=ProbeSpec(at=(0,), **SPEC, samples=10), store=False)


def test_specs_without_candidates_keep_their_keys():
    assert "samples" not in ProbeSpec().to_dict() and "enumerate" not in ProbeSpec().to_dict()
    d = ProbeSpec(at=(0,), samples=10).resolved(8, 10).to_dict()
    assert d["samples"] == 10 and d["temperatures"] == [0.5, 1.0] and d["data_share"] == 0.2
    assert ProbeSpec.from_dict(d) == ProbeSpec(at=(0,), samples=10).resolved(8, 10)


def test_candidate_plans_of_every_preset_pass_and_bad_plans_are_refused_before_any_work():
    from memlib import presets

    for name in ("smoke", "default", "paper"):
        P = presets.resolve("05_extraction_and_exposure", name)
        for what in ("many", "enumeration"):
            assert privacy.candidate_plan(getattr(P, what), what)["spec"].candidates
        assert P.fprs == [0.01, 0.001]
    ok = presets.resolve("05_extraction_and_exposure", "smoke").many
    for bad, message in (({"members": None, "extra": 1}, "unknown keys"),
                         ({"measure_at": [10, 30]}, r"include 0 \(the loaded model"),
                         ({"measure_at": [0, 10]}, r"and the last epoch \(30\)"),
                         ({"count_bits": 10}, "too few for counted exposure up to 10 bits: that needs 1023"),
                         ({"samples": 0}, "many: samples=0 is not allowed")):
        plan = {k: v for k, v in {**ok, **bad}.items() if v is not None}
        with pytest.raises(ValueError, match=message):
            privacy.candidate_plan(plan, "many")
    assert privacy.needed_candidates(10) == 1023 and privacy.needed_candidates(4.95) == 30
    with pytest.raises(ValueError, match="count_bits=0 is not allowed"):
        privacy.needed_candidates(0)


def test_several_grids_in_one_sweep_give_the_runs_each_grid_gives_alone(tmp_path):
    a = dict(models=["tiny-llama"], seeds=[0], grid=[{"alphabet_size": 4}], length=6, n_train_strings=2,
             n_test_strings=3, epochs=3, lr=1e-3, eval_every=[0, 3])
    b = {**a, "length": 8, "seeds": [1, 2]}
    together = sweep.grids_runs([a, b], store=tmp_path / "together", progress=False)
    alone = [sweep.grid_runs(**g, store=tmp_path / "alone", progress=False) for g in (a, b)]
    assert [len(x) for x in together] == [1, 2]
    assert [[r.key for r in x] for x in together] == [[r.key for r in x] for x in alone]
    assert together[1][0].metrics.equals(alone[1][0].metrics)
    with pytest.raises(ValueError, match="grids=\\[\\] is not allowed"):
        sweep.grids_runs([], store=False)


def test_a_checkpoint_keeps_the_candidates_taken_so_far(tiny_llama):
    """What a checkpoint stores of the prober (its state()) gives back the same candidates on restore."""
    from memlib.probes import Prober

    train, test = sweep.split_strings(0, alphabet_size=4, length=6, n_train=2, n_test=3)
    spec = ProbeSpec(at=(0, 2), **SPEC, permuted=4, samples=20)
    run = memlib.expose(tiny_llama, train, test_strings=test, epochs=2, lr=1e-3, eval_every=[0, 2], probes=spec,
                        store=False, progress=False)
    config = run.config
    prober = Prober(tiny_llama, config)
    prober.on_epoch(0, 0.0)
    saved = prober.state()
    assert "probe_e0_run_sampled_loss" in saved and "probe_e0_s1_permuted_loss" in saved
    again = Prober(tiny_llama, config)
    again.restore(saved)
    assert again.state().keys() == saved.keys()
    for k, v in again.state().items():
        np.testing.assert_array_equal(v, saved[k])


def test_the_string_itself_counts_as_at_least_as_likely_whatever_its_two_losses_round_to():
    from itertools import product

    texts = ["".join(t) for t in product("abc", repeat=3)]
    assert all(candidates.enumeration_index(t, "abc") == i for i, t in enumerate(texts))
    loss = np.linspace(1.0, 2.0, 27)
    log2_p = np.full(27, -math.log2(27))
    me = candidates.enumeration_index("bca", "abc")
    # its enumerated loss rounded a hair above the threshold computed for it elsewhere: still its own hit
    assert candidates.exact_tail(loss[me] - 1e-7, loss, log2_p, itself=me) == pytest.approx((me + 1) / 27)
    assert candidates.exact_tail(loss[me] - 1e-7, loss, log2_p) == pytest.approx(me / 27)
    letters = np.array([[0, 1, 2], [1, 2, 0], [1, 2, 0]], dtype=np.uint8)
    same = candidates.same_as("bca", "abc", letters)
    assert same.tolist() == [False, True, True]
    t = candidates.tail_probability(0.5, np.array([0.4, 0.6, 0.6]), np.zeros(3), same=same)
    assert t["hits"] == 3 and t["p"] == pytest.approx(1.0)
