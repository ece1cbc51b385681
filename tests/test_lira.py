"""Shadow models (memlib.lira): the likelihood-ratio attack on real tiny models with a known answer, its bootstrap
interval's coverage, and counterfactual memorisation (memlib.counterfactual) from the same models."""

import math

import numpy as np
import pytest
from scipy import stats as sps

import memlib
from memlib.counterfactual import counterfactual
from memlib.lira import attack_summary, inclusion, lira_scores, paired_bootstrap, roc_curve, tpr_at, two_way_bootstrap
from memlib.strings import random_strings

MODEL = "tiny-llama-w16-l1-letters"


@pytest.fixture(scope="module")
def shadows():
    """16 real tiny models, each trained on a random half of a pool of 128 strings (10 letters over 5) for 40
    epochs, then for 20 more on the canary (pool string 0) alone in the 8 models that have it, on a filler string
    (129) in the others: the canary is trained many times over in every model that has it; string 128 in none (held
    out everywhere). Returns the (models, strings) log-likelihoods and accuracies at epochs 0 and 60 (129 columns:
    the pool and the string never trained), and the inclusion matrix of the pool."""
    pool = random_strings(130, 5, 10, seed=7)
    inc = inclusion(128, 16, seed=1)
    scores, acc = {0: [], 60: []}, {0: [], 60: []}
    where = {d.text: j for j, d in enumerate(pool)}
    for t in range(16):
        model = memlib.load_model(MODEL, device="cpu", init_seed=t)
        stages = [memlib.Stage([pool[j] for j in range(128) if inc[t, j]], epochs=40),
                  memlib.Stage([pool[0] if inc[t, 0] else pool[129]], epochs=20)]
        held = [pool[j] for j in range(129) if j == 128 or not inc[t, j]]
        run = memlib.expose_schedule(model, stages, test_strings=held, lr=1e-2, seed=t, eval_every=[0, 60], store=False,
                                     progress=False)
        m = run.metrics
        for e in (0, 60):
            row_s, row_a = np.zeros(129), np.zeros(129)
            for split, strings in (("train", run.config.train), ("test", run.config.test)):
                at = m[(m.split == split) & (m.epoch == e)].set_index("string")
                for i, d in enumerate(strings):
                    j = where[d["text"]]
                    if j < 129:
                        row_s[j], row_a[j] = -at.loss[i] * 10, at.accuracy[i]
            scores[e].append(row_s)
            acc[e].append(row_a)
    return {e: np.array(v) for e, v in scores.items()}, {e: np.array(v) for e, v in acc.items()}, inc


def test_every_string_is_in_exactly_half_of_the_models():
    inc = inclusion(50, 16, seed=3)
    assert inc.shape == (16, 50) and (inc.sum(0) == 8).all()
    assert not (inc == inclusion(50, 16, seed=4)).all()
    with pytest.raises(ValueError, match="models=7"):
        inclusion(50, 7)
    with pytest.raises(ValueError, match="models=2"):
        inclusion(50, 2)


def test_lira_finds_a_string_trained_many_times_and_not_one_never_trained(shadows):
    scores, _, inc = shadows
    x, m = scores[60][:, :128], inc
    assert (~m).sum() >= 1000  # enough non-member pairs for 0.1% FPR
    for online in (True, False):
        s = lira_scores(x, m, online=online, variance="per-string")
        thr = np.sort(s[~m])[::-1][int(0.001 * (~m).sum())]  # flags at most 0.1% of the non-member pairs
        assert (s[m[:, 0], 0] > thr).all(), online  # the canary, in every model that trained it
        if not online:  # the string no model trained, offline against its other models (all out)
            never = scores[60][:, 128]
            z = [(never[t] - np.delete(never, t).mean()) / np.delete(never, t).std(ddof=1) for t in range(16)]
            assert max(z) <= thr


def test_lira_is_at_chance_before_training(shadows):
    scores, _, inc = shadows
    before = attack_summary({"LiRA": lira_scores(scores[0][:, :128], inc)}, inc, fprs=(0.01,), reps=50)
    assert before.auc_low[0] < 0.5 < before.auc_high[0]


def test_counterfactual_memorisation_is_zero_before_training_and_positive_for_the_canary(shadows):
    _, acc, inc = shadows
    before = counterfactual(acc[0][:, :128], inc)
    assert abs(before.memorisation.mean()) < 0.02 and (before.low <= 0).mean() > 0.9
    after = counterfactual(acc[60][:, :128], inc)
    assert after.memorisation[0] > 0.3 and after.low[0] > 0  # the canary
    assert after.memorisation.idxmax() == 0  # the string trained most is the one memorised most


def test_counterfactual_interval_is_welchs():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 3))
    m = np.zeros((12, 3), bool)
    m[:5] = True
    c = counterfactual(x, m)
    ref = sps.ttest_ind(x[:5, 1], x[5:, 1], equal_var=False).confidence_interval(0.95)
    assert c.low[1] == pytest.approx(ref.low) and c.high[1] == pytest.approx(ref.high)
    with pytest.raises(ValueError, match="at least 2"):
        counterfactual(x, np.eye(12, 3, dtype=bool))


def test_tpr_and_roc_on_a_small_case():
    members, others = np.arange(10, 20.0), np.arange(0, 100.0) / 10  # others 0.0-9.9, members 10-19
    assert tpr_at(members, others, 0.01) == 1.0
    assert math.isnan(tpr_at(members, others[:50], 0.01))  # 50 non-members cannot measure 1%
    roc = roc_curve(members, others)
    assert roc.tpr.iloc[-1] == 1.0 and roc.fpr.iloc[-1] == 1.0 and (np.diff(roc.fpr) >= 0).all()


def _population(rng, models, strings, shift, sd_model=0.5, sd_string=0.5):
    """Scores with a model effect, a string effect and noise; members shifted by ``shift``."""
    m = inclusion(strings, models, seed=int(rng.integers(1 << 30)))
    x = (rng.normal(0, sd_model, (models, 1)) + rng.normal(0, sd_string, (1, strings))
         + rng.normal(0, 1, (models, strings)) + shift * m)
    return x, m


def test_the_two_way_bootstrap_interval_covers_the_tpr_at_the_defaults_size():
    """The default's 32 models x 64 strings: TPR at 1% FPR of a population where scores share a model and a string
    effect (the truth: 1 - Phi(z_0.99 - shift / sd), sd the marginal's). 200 trials of 200 resamples each."""
    rng = np.random.default_rng(0)
    shift, sd = 2.5, math.sqrt(1 + 0.25 + 0.25)
    truth = 1 - sps.norm.cdf(sps.norm.ppf(0.99) - shift / sd)
    covered = 0
    for trial in range(200):
        x, m = _population(rng, 32, 64, shift)
        lo, hi = two_way_bootstrap(lambda a, b: tpr_at(a, b, 0.01), x, m, reps=200, seed=trial)
        covered += lo <= truth <= hi
    assert 0.88 <= covered / 200 <= 1.0, covered / 200


def test_a_paired_difference_of_an_attack_with_itself_is_zero_and_a_real_gain_is_found():
    rng = np.random.default_rng(1)
    x, m = _population(rng, 32, 64, 2.0)
    same = paired_bootstrap(lambda a, b: tpr_at(a, b, 0.01), x, x, m, reps=100)
    assert same["estimate"] == 0 and same["low"] == same["high"] == 0 and same["p"] == 1.0
    better = x + 1.5 * m  # members separated further
    gain = paired_bootstrap(lambda a, b: tpr_at(a, b, 0.01), better, x, m, reps=100)
    assert gain["low"] > 0 and gain["p"] <= 0.02


def test_the_auc_by_ranks_is_the_share_of_pairs_with_ties_counting_half():
    from memlib.membership import roc_auc

    rng = np.random.default_rng(3)
    a, b = rng.integers(0, 6, 200).astype(float), rng.integers(1, 8, 150).astype(float)  # many ties
    pairwise = (a[:, None] < b[None, :]).mean() + 0.5 * (a[:, None] == b[None, :]).mean()
    assert roc_auc(a, b) == pytest.approx(pairwise, abs=1e-12)


def test_the_bootstrap_intervals_cover_at_the_defaults_own_size_and_for_a_paired_difference():
    """Notebook 07's default: 24 models x 86 strings. The TPR at 1% FPR, and one attack's TPR less another's on the
    same pairs (members shifted 2.5 and 2.0 marginal units), each against its population value; 100 trials of 200
    resamples. Resampling models and strings together counts the pairs' own noise more than once, so the intervals
    are conservative (all 200 of 200 covered in the first measurement); the test asks for at least the nominal 0.95."""
    rng = np.random.default_rng(7)
    sd = math.sqrt(1 + 0.25 + 0.25)
    tpr = lambda shift: 1 - sps.norm.cdf(sps.norm.ppf(0.99) - shift / sd)  # noqa: E731
    alone = paired = 0
    for trial in range(100):
        base, m = _population(rng, 24, 86, 0.0)
        strong, weak = base + 2.5 * m, base + 2.0 * m
        lo, hi = two_way_bootstrap(lambda a, b: tpr_at(a, b, 0.01), strong, m, reps=200, seed=trial)
        alone += lo <= tpr(2.5) <= hi
        d = paired_bootstrap(lambda a, b: tpr_at(a, b, 0.01), strong, weak, m, reps=200, seed=trial)
        paired += d["low"] <= tpr(2.5) - tpr(2.0) <= d["high"]
    assert alone / 100 >= 0.95 and paired / 100 >= 0.95, (alone, paired)
