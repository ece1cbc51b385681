"""Exact loss tails of a position-wise model (memlib.tails) against brute force, and importance-sampled exposure
checked against them at depth, over independent sets of samples."""

import math
from itertools import product

import numpy as np
import pytest

import memlib
from memlib.candidates import reliable, string_losses, tail_probability
from memlib.strings import random_strings
from memlib.tails import TailCheck, brute_tail, markov_tail, string_sum, tail_check_table, tail_coverage, term_table

POSITIONAL = "tiny-positional-w16-letters"


@pytest.fixture(scope="module")
def trained():
    """A position-wise model trained on 2 strings of 20 letters over 6 (51.7 bits each), its tails checked at 3
    epochs with 12 independent sets of 600 importance samples."""
    model = memlib.load_model(POSITIONAL, device="cpu", init_seed=3)
    strings = random_strings(2, 6, 20, seed=11)
    run = memlib.expose(model, strings, epochs=40, lr=3e-2, eval_every=[0], store=False, progress=False,
                        measurements=[TailCheck(at=(3, 10, 40), samples=600, repeats=12, seed=5)])
    return model, run


def test_a_position_wise_model_scores_a_string_as_the_sum_of_its_term_table(tiny_llama):
    model = memlib.load_model(POSITIONAL, device="cpu", init_seed=1)
    terms = term_table(model, "abcde", 12)
    texts = [s.text for s in random_strings(20, 5, 12, seed=2)]
    losses = string_losses(model, texts, "abcde")
    assert np.allclose(losses * 12, [string_sum(terms, t, "abcde") for t in texts], rtol=1e-5)
    with pytest.raises(ValueError, match="position-wise"):
        term_table(tiny_llama, "abcde", 12)  # attention: not a sum of per-position terms


@pytest.mark.parametrize("probs", [[1 / 3] * 3, [0.5, 0.3, 0.2]])
def test_the_exact_tail_equals_brute_force_enumeration(probs):
    model = memlib.load_model(POSITIONAL, device="cpu", init_seed=4)
    strings = random_strings(1, 3, 9, seed=0)
    memlib.expose(model, strings, epochs=20, lr=3e-2, store=False, progress=False)  # a tail far from uniform
    terms = term_table(model, "abc", 9)
    all_sums = np.sort([string_sum(terms, "".join(x), "abc") for x in product("abc", repeat=9)])
    for q in (0.001, 0.05, 0.5, 0.9):  # thresholds in the widest gap between strings' losses near each quantile
        lo = int(q * len(all_sums))
        i = lo + int(np.argmax(np.diff(all_sums[lo:lo + 2000])))
        thr = (all_sums[i] + all_sums[i + 1]) / 2 / 9
        bins = 2 ** 21
        assert all_sums[i + 1] - all_sums[i] > 2 * 9 * thr * 9 / bins  # wider than the grid's rounding over 9 terms
        exact = brute_tail(terms, probs, thr)
        t = markov_tail(terms, probs, thr, bins=bins)
        assert t["low"] <= exact * (1 + 1e-12) and exact <= t["high"] * (1 + 1e-12)
        assert t["low"] == pytest.approx(exact, rel=1e-9) and t["high"] == pytest.approx(exact, rel=1e-9)
    coarse = markov_tail(terms, probs, float(np.median(all_sums)) / 9, bins=16)  # a coarse grid: a wide bracket
    assert coarse["low"] < coarse["high"] and coarse["width"] > 0


def test_the_string_itself_is_in_its_own_exact_tail():
    model = memlib.load_model(POSITIONAL, device="cpu", init_seed=2)
    s = random_strings(1, 4, 10, seed=3)[0]
    memlib.expose(model, [s], epochs=60, lr=5e-2, store=False, progress=False)
    terms = term_table(model, "abcd", 10)
    own = string_sum(terms, s.text, "abcd") / 10
    t = markov_tail(terms, [0.25] * 4, own * (1 - 1e-7), itself=s.text, alphabet="abcd")  # rounding below itself
    assert t["low"] >= 0.25 ** 10 * (1 - 1e-9)
    assert t["exposure_high"] <= 20.0 + 1e-6  # at most its self-information: 10 letters of 2 bits


def test_importance_sampled_exposure_covers_the_exact_tail_at_depth(trained):
    _, run = trained
    table = tail_check_table([run], sizes=[150, 600])
    deep = table[table.exact > 20]
    assert len(deep) >= 24 and table.exact.max() > 35  # checked well beyond what counting resolves
    big = deep[deep.n == 600]
    assert 0.8 <= big.covered.mean() <= 1.0, big.covered.mean()
    assert big.error.abs().median() < 0.5
    assert table[table.n == 150].error.abs().median() >= big.error.abs().median() * 0.9  # more samples, less error
    cov = tail_coverage(table)
    assert set(cov.n) == {150, 600} and (cov.coverage_low <= cov.coverage).all()


def test_the_check_fails_when_the_importance_weights_are_dropped(trained):
    _, run = trained
    e = 40
    a = {k[len(f"tail_e{e}_"):]: v for k, v in run.arrays.items() if k.startswith(f"tail_e{e}_")}
    _, alphabet, probs = memlib.strings.string_parts(run.config.train[0])
    covered = 0
    for j, loss in enumerate(a["member_loss"]):
        exact = markov_tail(a["terms"], probs, float(loss), itself=run.config.train[j]["text"], alphabet=alphabet)
        mid = (exact["exposure_low"] + exact["exposure_high"]) / 2
        for r in range(12):  # every weight 1: the proposal's own tail, far heavier than the data's
            t = tail_probability(float(loss), a[f"r{r}_loss"], np.zeros_like(a[f"r{r}_loss"]),
                                 same=a[f"r{r}_member"] == j)
            covered += bool(t["hits"]) and t["exposure_low"] <= mid <= t["exposure_high"]
    assert covered <= 2


def test_the_reliability_rule_reads_hits_and_effective_sample_size():
    assert reliable({"hits": 10, "ess": 5.0}) and not reliable({"hits": 9, "ess": 9.0})
    assert not reliable({"hits": 50, "ess": 1.5})


def test_tail_check_refuses_what_it_cannot_measure(tiny_llama, no_training):
    s = random_strings(2, 4, 8, seed=0)
    with pytest.raises(ValueError, match="position-wise"):
        memlib.expose(tiny_llama, s, epochs=2, store=False, progress=False, measurements=[TailCheck(at=(1,))])
    positional = memlib.load_model(POSITIONAL, device="cpu")
    with pytest.raises(ValueError, match="at=\\[5\\]"):
        memlib.expose(positional, s, epochs=2, store=False, progress=False, measurements=[TailCheck(at=(5,))])
    with pytest.raises(ValueError, match="repeats=0"):
        memlib.expose(positional, s, epochs=2, store=False, progress=False,
                      measurements=[TailCheck(at=(1,), repeats=0)])
    with pytest.raises(ValueError, match="bins=0"):
        markov_tail(np.zeros((2, 3, 2)), [0.5, 0.5], 1.0, bins=0)
    with pytest.raises(ValueError, match="probs"):
        markov_tail(np.zeros((2, 3, 2)), [0.5, 0.6], 1.0)
    assert math.isinf(markov_tail(np.ones((2, 3, 2)), [0.5, 0.5], 0.1)["exposure_high"])  # nothing below: no mass
