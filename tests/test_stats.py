"""memlib.stats against known cases: interval coverage in a small simulation, exact sign-test p-values by hand,
censored units as "longer than", and the words a verdict uses."""
import math

import numpy as np
import pytest

from memlib import stats


def test_sign_test_exact_p_values_by_hand():
    assert stats.sign_test([-1] * 5) == pytest.approx(2 * 0.5 ** 5)  # 0.0625: 5 of 5 cannot establish
    assert stats.sign_test([-1] * 6) == pytest.approx(2 * 0.5 ** 6)  # 0.03125
    assert stats.sign_test([1, -1, -1, -1, -1, -1]) == pytest.approx(2 * 7 / 64)  # P(X <= 1 | 6) = 7/64, twice
    assert stats.sign_test([1, -1, 0, None]) == 1.0  # ties and undetermined units have no direction
    assert stats.sign_test([]) == 1.0


def test_bootstrap_interval_covers_the_true_median_at_about_the_stated_rate():
    rng = np.random.default_rng(0)
    covered = 0
    trials = 200
    for t in range(trials):
        x = rng.normal(3.0, 1.0, 12)
        covered += stats.bootstrap_ci(x, "median", seed=t).excludes(3.0) is False
    assert 0.85 <= covered / trials <= 0.99  # 95% nominal; the BCa median at n=12 is close, not exact


def test_bootstrap_interval_edge_cases():
    one = stats.bootstrap_ci([4.0])
    assert one.n == 1 and math.isnan(one.low) and one.text() == "4.00 (n=1: no interval)"
    same = stats.bootstrap_ci([2.0, 2.0, 2.0])
    assert (same.low, same.high, same.method) == (2.0, 2.0, "no spread")
    assert stats.bootstrap_ci([1.0, np.nan, 3.0]).n == 2
    with pytest.raises(ValueError, match="statistic='mode' is not allowed"):
        stats.bootstrap_ci([1.0, 2.0], "mode")


def test_a_consistent_paired_speed_up_over_enough_units_is_established():
    fresh = np.array([20, 18, 25, 22, 19, 30, 24, 21.0])
    later = fresh * 0.6
    c = stats.paired_contrast(later, fresh, kind="ratio")
    assert c.n == 8 and c.lower == 8 and c.interval.estimate == pytest.approx(0.6)
    assert c.established and "established" in c.text() and "not established" not in c.text()


def test_three_units_never_establish_a_contrast_whatever_their_size():
    c = stats.paired_contrast([5.0, 6.0, 7.0], [20.0, 21.0, 22.0], kind="difference")
    assert c.lower == 3 and c.p == pytest.approx(0.25)
    assert not c.established and c.text().endswith("sign test p = 0.25: not established")


def test_an_interval_that_includes_no_effect_is_not_established():
    c = stats.paired_contrast([10, 12, 9, 14, 11, 13, 10, 12.0], [11, 11, 10, 12, 12, 12, 11, 11.0], kind="difference")
    assert c.interval.low <= 0 <= c.interval.high and not c.established


def test_censored_units_are_longer_than_their_length_never_dropped():
    # unit 0: a ran out at 40, b memorised at 30 -> a slower (known); unit 1: a out at 40, b at 50 -> undetermined;
    # unit 2: both out -> undetermined; unit 3: plain, a faster
    c = stats.paired_contrast([np.nan, np.nan, np.nan, 10.0], [30.0, 50.0, np.nan, 20.0], kind="difference",
                              censored_a=[True, True, True, False], censored_b=[False, False, True, False],
                              length_a=[40, 40, 40, 10], length_b=[30, 50, 60, 20])
    assert (c.higher, c.lower, c.undetermined, c.censored) == (1, 1, 2, 3)
    assert c.interval.n == 4  # censored units enter at their length: the interval is a bound
    assert "undetermined in 2 (censored)" in c.text() and "3 censored, counted at their length" in c.text()


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="kind='log' is not allowed"):
        stats.paired_contrast([1.0], [2.0], kind="log")
    with pytest.raises(ValueError, match="shapes"):
        stats.paired_contrast([1.0, 2.0], [2.0])
