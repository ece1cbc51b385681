import math
import warnings

import numpy as np
import pandas as pd
import pytest

import memlib
from memlib import difficulty as dif


def _metrics(train_acc, test_acc, test_epochs=None):
    rows = [dict(epoch=e, split="train", string=0, accuracy=a, empirical_entropy=1.0) for e, a in enumerate(train_acc)]
    test_epochs = range(len(train_acc)) if test_epochs is None else test_epochs
    rows += [dict(epoch=e, split="test", string=0, accuracy=a, empirical_entropy=1.0) for e, a in zip(test_epochs, test_acc)]
    return pd.DataFrame(rows)


def test_measures_on_synthetic_curves():
    train = [0.0, 0.2, 0.6, 0.95, 1.0]
    d = dif.difficulty(_metrics(train, [0.0, 0.2, 0.2, 0.2, 0.2]))
    assert (d["epochs_to_50"], d["epochs_to_90"], d["epochs_to_99"]) == (2, 3, 4)
    assert not any(d[f"censored_{k}"] for k in (50, 90, 99))
    # trapezoid: (0+.2)/2 + (.2+.6)/2 + (.6+.95)/2 + (.95+1)/2 = 2.25, over 4 epochs
    assert d["auc"] == pytest.approx(2.25 / 4)
    assert d["gain_final"] == pytest.approx(0.8)
    assert d["gain_auc"] == pytest.approx((2.25 - 0.7) / 4)
    norm = np.array([0.0, 0.0, 0.4, 0.75, 0.8]) / np.array([1.0, 0.8, 0.8, 0.8, 0.8])
    assert d["gain_norm_auc"] == pytest.approx(((norm[1:] + norm[:-1]) / 2).sum() / 4)
    assert d["guess_accuracy"] == pytest.approx(0.7 / 4)  # trapezoid over epochs, like auc


def test_never_reached_thresholds_are_censored_at_the_last_epoch():
    d = dif.difficulty(_metrics([0.1, 0.3, 0.55, 0.7], [0.1] * 4))
    assert d["epochs_to_50"] == 2 and not d["censored_50"]
    assert d["epochs_to_90"] == 3 and d["censored_90"] and d["censored_99"]


def test_gain_interpolates_sparse_test_evaluations():
    g = dif.gain_curve(_metrics([0.0, 0.5, 1.0], [0.0, 0.4], test_epochs=[0, 2]))
    np.testing.assert_allclose(g.test_accuracy, [0.0, 0.2, 0.4])
    np.testing.assert_allclose(g.gain, [0.0, 0.3, 0.6])
    with pytest.raises(ValueError, match="held-out"):
        dif.gain_curve(_metrics([0.1], []))


def test_gain_warns_when_early_held_out_epochs_are_missing():
    acc = list(np.linspace(0, 1, 21))
    with pytest.warns(UserWarning, match=r"only at epochs \[20\]"):
        dif.gain_curve(_metrics(acc, [0.3], test_epochs=[20]))  # eval_every="auto" with a tight budget
    with pytest.warns(UserWarning, match="early epochs"):
        dif.gain_curve(_metrics(acc, [0.0, 0.3], test_epochs=[0, 20]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dif.gain_curve(_metrics(acc, [0.0, 0.2, 0.3], test_epochs=[0, 2, 20]))


@pytest.mark.parametrize("levels", [(0.5, 1.0, 2.0, 3.0, 4.0, 5.0), (0.1, 4.7, 10.0)])
def test_entropy_grid_never_exceeds_the_alphabet(levels):
    grid = dif.entropy_grid([2, 4, 7, 13, 26], levels)
    for g in grid:
        if g["entropy"] is not None:
            assert g["entropy"] < math.log2(g["alphabet_size"])
            memlib.distribution(g["alphabet_size"], g["entropy"])  # reachable
    assert sum(g["entropy"] is None for g in grid) == 5
    with pytest.raises(ValueError, match="alphabet size 1"):
        dif.entropy_grid([1])
    with pytest.raises(ValueError, match="entropy level -1"):
        dif.entropy_grid([4], [-1])


def test_fit_trend_recovers_known_coefficients():
    rng = np.random.default_rng(0)
    t = pd.DataFrame({"entropy": rng.uniform(0.5, 4, 200), "alphabet_size": rng.choice([2, 4, 8, 16], 200)})
    t["auc"] = 0.3 + 0.1 * t.entropy - 0.05 * np.log2(t.alphabet_size) + rng.normal(0, 0.01, 200)
    f = dif.fit_trend(t, "auc", ["entropy", "log2_alphabet"]).set_index("term")
    assert f.loc["entropy", "coef"] == pytest.approx(0.1, abs=0.01)
    assert f.loc["log2_alphabet", "coef"] == pytest.approx(-0.05, abs=0.01)
    assert f.loc["entropy", "ci_low"] < 0.1 < f.loc["entropy", "ci_high"] or abs(f.loc["entropy", "coef"] - 0.1) < 0.003
    assert f.loc["entropy", "p"] < 1e-10 and (f.n == 200).all() and (f.se > 0).all()
    with pytest.raises(ValueError, match="columns \\['nope'\\]"):
        dif.fit_trend(t, "nope")


def test_difficulty_on_a_real_tiny_run(tiny_llama):
    s = memlib.random_strings(3, 4, 24, entropy=1.5, seed=2)
    run = memlib.expose(tiny_llama, s[:1], test_strings=s[1:], epochs=60, eval_every=3, store=False)
    t = dif.difficulty_table([run])
    row = t.iloc[0]
    assert row.alphabet_size == 4 and row.entropy == pytest.approx(1.5, abs=1e-3) and row.family == "exponential"
    acc = run.metrics[run.metrics.split == "train"].set_index("epoch").accuracy
    test = run.metrics[run.metrics.split == "test"].groupby("epoch").accuracy.mean()
    assert not row.censored_90 and acc[row.epochs_to_90] >= 0.9 and (acc.loc[: row.epochs_to_90 - 1] < 0.9).all()
    assert 0 < row.auc < 1 and row.final_accuracy == acc.iloc[-1]
    # the held-out strings are evaluated at the last epoch: the final gain is read, not interpolated. A model that
    # learnt the distribution (p(a) = 0.59) guesses about half of them; a memorised string leaves a wide gain
    assert row.gain_final == pytest.approx(acc.iloc[-1] - test.iloc[-1]) and row.gain_final > 0.2
    assert test.min() <= row.guess_accuracy <= test.max()


def test_spearman_and_mean_gain(tiny_llama):
    assert memlib.stats.spearman([1, 2, 3, 4], [10, 20, 30, 1000]) == pytest.approx(1.0)
    assert memlib.stats.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert memlib.stats.spearman([1, 2, float("nan"), 4], [1, 2, 3, 4]) == pytest.approx(1.0)
    assert math.isnan(memlib.stats.spearman([1, 2], [1, 2]))
    s = memlib.random_strings(4, 4, 12, seed=3)
    runs = [memlib.expose(tiny_llama, [x], test_strings=s[2:], epochs=3, eval_every=1, store=False) for x in s[:2]]
    g = dif.mean_gain(runs)
    want = (dif.gain_curve(runs[0].metrics).gain.to_numpy() + dif.gain_curve(runs[1].metrics).gain.to_numpy()) / 2
    np.testing.assert_allclose(g.to_numpy(), want)


def test_fit_terms_keeps_what_the_runs_can_separate():
    grid = pd.DataFrame({"alphabet_size": [2, 7, 26, 7, 26, 26], "entropy": [1.0, 2.807, 4.7, 1.0, 2.0, 1.0]})
    assert dif.fit_terms(grid) == ["entropy", "log2_alphabet"]
    uniform = pd.DataFrame({"alphabet_size": [2, 7, 26], "entropy": np.log2([2, 7, 26])})  # entropy = log2(size)
    assert dif.fit_terms(uniform) == ["entropy"]
    one_alphabet = pd.DataFrame({"alphabet_size": [26, 26], "entropy": [2.0, 4.7]})  # the cpu-long preset's grid
    assert dif.fit_terms(one_alphabet) == ["entropy"]
    assert dif.fit_terms(one_alphabet.iloc[:1]) == []
