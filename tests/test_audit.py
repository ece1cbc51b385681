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
