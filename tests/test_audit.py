"""Notebook 07's plan and tables (memlib.audit): every bad parameter refused before any training; the per-string
table and its comparisons on real shadow models."""

import pytest

from memlib import audit, presets
from memlib.store import RunStore


@pytest.mark.parametrize("override, message", [
    (dict(tail_model="tiny-llama"), "tail_model='tiny-llama' is not allowed"),
    (dict(shadows=7), "models=7"),
    (dict(shadows=6), "shadows=6"),
    (dict(measure_at=[40]), "include 0"),
    (dict(variance="each"), "variance='each'"),
    (dict(fprs=[0.0]), "fpr=0.0"),
    (dict(tail={"members": 2}), "exactly the keys"),
])
def test_every_bad_parameter_is_refused_before_any_training(override, message, no_training, tmp_path):
    P = presets.resolve("07_privacy_audit", "smoke").override(**override)
    with pytest.raises(ValueError, match=message):
        audit.audit_runs(P, RunStore(tmp_path))
    assert not list(tmp_path.glob("runs/*"))  # nothing half-written


def test_sizes_beyond_the_samples_are_refused(no_training, tmp_path):
    smoke = presets.resolve("07_privacy_audit", "smoke")
    P = smoke.override(tail={**smoke.tail, "sizes": [100, 5000]})
    with pytest.raises(ValueError, match="sizes"):
        audit.audit_runs(P, RunStore(tmp_path))


@pytest.fixture(scope="module")
def smoke_runs(tmp_path_factory):
    P = presets.resolve("07_privacy_audit", "smoke")
    return P, audit.audit_runs(P, RunStore(tmp_path_factory.mktemp("store")))


def test_every_pair_is_measured_once_and_membership_follows_the_design(smoke_runs):
    P, runs = smoke_runs
    pairs = audit.pair_table(runs["shadows"], audit.pool_strings(P))
    assert len(pairs) == P.shadows * P.pool * len(P.measure_at)
    m = audit.matrix(pairs, P.epochs, "member")
    assert (m.sum(0) == P.shadows // 2).all()  # every string in exactly half of the models
    last = pairs[pairs.epoch == P.epochs]
    assert last.exposure.notna().mean() > 0.9 and pairs[pairs.epoch == 0].exposure.isna().all()  # samples at the end
    assert (pairs.memorised_bits >= 0).all() and pairs.extracted.between(0, P.length).all()


def test_the_per_string_table_compares_every_measure_and_names_disagreements(smoke_runs):
    P, runs = smoke_runs
    pairs = audit.pair_table(runs["shadows"], audit.pool_strings(P))
    strings = audit.string_table(pairs, P.epochs)
    assert len(strings) == P.pool and set(audit.MEASURES) <= set(strings.columns)
    corr = audit.correlations(strings)
    assert len(corr) == 10 and (corr.n == P.pool).all() and ((corr.low <= corr.rho) & (corr.rho <= corr.high)).all()
    dis = audit.disagreements(strings)
    assert len(dis) == 20 and (dis.missed <= dis.flagged).all()
    for r in dis.itertuples():  # the strings listed are flagged by one and low in the other
        ranks = strings[[r.flagged_by, r.low_in]].rank(pct=True)
        assert all(ranks[r.flagged_by][s] > 0.75 and ranks[r.low_in][s] <= 0.5 for s in r.strings)
    attacks = audit.attack_table(pairs, fprs=P.fprs, reps=20)
    assert set(attacks.attack) == {"loss", "calibrated", "LiRA offline", "LiRA online"}
    assert attacks["tpr_0.01"].isna().all()  # 64 non-member pairs cannot measure 1% FPR


def _tables(gain, low, high, p):
    """Hand tables for notebook 07's verdict: one tail check, two attacks at epochs 0 and 10, 12 strings."""
    import numpy as np
    import pandas as pd

    from memlib.tails import tail_coverage

    rng = np.random.default_rng(0)
    exact = np.repeat([30.0, 70.0], 20)
    measured = exact + rng.normal(0, 0.1, 40)
    table = pd.DataFrame({"run": "r", "epoch": np.repeat([5, 40], 20), "string": 0, "set": np.tile(range(20), 2),
                          "n": 1000, "exact": exact, "exact_width": 0.01, "measured": measured, "low": measured - 0.3,
                          "high": measured + 0.3, "hits": 50, "ess": 20.0, "reliable": True})
    table["covered"] = (table.low <= table.exact) & (table.exact <= table.high)
    table["error"] = table.measured - table.exact
    row = dict(pairs=100, members=50, non_members=50, auc_low=0.4, auc_high=0.6, **{"tpr_0.01": np.nan,
               "tpr_0.01_low": np.nan, "tpr_0.01_high": np.nan})
    attacks = pd.DataFrame([dict(row, attack=a, auc=0.5, epoch=0) for a in ("loss", "LiRA online")]
                           + [dict(row, attack=a, auc=0.9, epoch=10) for a in ("loss", "LiRA online")])
    differences = pd.DataFrame([dict(epoch=10, attack="LiRA online", against="loss", fpr=0.01, estimate=gain, low=low,
                                     high=high, p=p, models=16, strings=12)])
    x = np.arange(12.0)
    strings = pd.DataFrame({"string": range(12), "exposure": x, "extracted": x % 3, "memorised_bits": x + 0.5,
                            "lira": -x, "counterfactual": x / 10, "counterfactual_low": x / 10 - 0.05,
                            "counterfactual_high": x / 10 + 0.05, "unseen_score": x})
    zero = strings.assign(counterfactual=0.0)
    return table, tail_coverage(table), attacks, differences, strings, zero


@pytest.mark.parametrize("gain, low, high, p, words", [
    (0.2, 0.1, 0.3, 0.001, "the shadow-model attack finds more members than the loss threshold"),
    (-0.2, -0.3, -0.1, 0.001, "the loss threshold finds more members than the shadow-model attack"),
    (0.01, -0.1, 0.1, 0.8, "is not established with this many shadow models"),
])
def test_the_auditors_sentence_follows_the_numbers(gain, low, high, p, words):
    table, coverage, attacks, differences, strings, zero = _tables(gain, low, high, p)
    lines = audit.verdict(table, coverage, attacks, differences, strings, zero, audit.correlations(strings),
                          audit.disagreements(strings), fprs=[0.01], epoch=10)
    text = "\n".join(lines)
    assert words in text
    assert "exposure and LiRA statistic rank the strings in opposite orders" in text  # rho -1 over 12 strings
    assert "covers the exact exposure in 40 of 40" in text
    rows = {r["name"]: r for r in lines.family.rows()}
    assert rows["exposure ~ counterfactual memorisation: Spearman rho"]["role"] == "primary"
    assert rows["LiRA online - loss: TPR at 1% FPR, epoch 10"]["established"] == (p < 0.025 and (low > 0 or high < 0))
