import math
import random

import numpy as np
import pytest

import memlib
from memlib.strings import FAMILIES


def test_pinned_outputs():
    # Pinned: these must never change, on any machine (Random.random is a stable stream).
    assert memlib.random_string(7, 40, seed=27).text == "eegbafccfbgdageafffegagebeceedaccfgfdbeb"
    assert memlib.random_string(2, 40, entropy=0.5, seed=27).text == "aabaaaaaaabaabaaaaaababaaaaaaaaaaabaaaaa"
    assert memlib.random_string(26, 30, seed=27, entropy=3.0, family="spike").text == "fixaapaapauaavbaqnlgzayfadafia"


def test_seed_and_prefix_property():
    a = memlib.random_strings(5, 7, 64, seed=3)
    b = memlib.random_strings(3, 7, 64, seed=3)
    assert [s.text for s in a[:3]] == [s.text for s in b]
    assert len({s.text for s in a}) == 5
    assert memlib.random_string(7, 64, seed=4).text != a[0].text
    assert [s.index for s in a] == list(range(5))


def test_length_alphabet_and_uniform():
    s = memlib.random_string(4, 500, seed=1)
    assert len(s) == 500 and set(s.text) <= set("abcd") and s.alphabet == "abcd"
    assert s.probs == (0.25,) * 4 and s.entropy == pytest.approx(2.0)
    assert str(s) == s.text


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("size", [2, 4, 7, 13, 26])
def test_target_entropy_reached(size, family):
    h_max = math.log2(size)
    for frac in (0.05, 0.3, 0.6, 0.9, 0.999, 1.0):
        h = frac * h_max
        p = memlib.distribution(size, h, family)
        assert sum(p) == pytest.approx(1.0, abs=1e-12)
        assert memlib.entropy_bits(p) == pytest.approx(h, abs=1e-3)
        assert all(x >= 0 for x in p)
        assert list(p) == sorted(p, reverse=True)  # letter a is the most likely


@pytest.mark.parametrize("family", FAMILIES)
def test_empirical_entropy_close_for_long_strings(family):
    s = memlib.random_string(7, 50_000, entropy=2.0, seed=11, family=family)
    assert s.entropy == pytest.approx(2.0, abs=1e-3)
    assert s.empirical_entropy == pytest.approx(2.0, abs=0.02)
    counts = np.array([s.text.count(c) for c in s.alphabet]) / len(s)
    assert np.abs(counts - np.array(s.probs)).max() < 0.01


def test_global_rng_untouched():
    state_py, state_np = random.getstate(), np.random.get_state()
    memlib.random_strings(3, 7, 100, entropy=1.5, seed=5)
    assert random.getstate() == state_py
    assert all(np.array_equal(x, y) for x, y in zip(np.random.get_state(), state_np) if isinstance(x, np.ndarray))


@pytest.mark.parametrize(
    "kwargs, names",
    [
        (dict(alphabet_size=1), "alphabet_size=1"),
        (dict(alphabet_size=27), "alphabet_size=27"),
        (dict(alphabet_size=2.0), "alphabet_size=2.0"),
        (dict(alphabet_size=True), "alphabet_size=True"),
        (dict(length=0), "length=0"),
        (dict(seed=-1), "seed=-1"),
        (dict(seed=1.5), "seed=1.5"),
        (dict(entropy=0.0), "entropy=0.0"),
        (dict(entropy=-1), "entropy=-1"),
        (dict(entropy=2.81), "entropy=2.81"),  # log2(7) = 2.807
        (dict(entropy=float("nan")), "entropy=nan"),
        (dict(family="zipf", entropy=1.0), "family='zipf'"),
    ],
)
def test_invalid_arguments_rejected(kwargs, names):
    args = dict(alphabet_size=7, length=10, seed=0) | kwargs
    with pytest.raises(ValueError) as e:
        memlib.random_string(args.pop("alphabet_size"), args.pop("length"), **args)
    assert names in str(e.value)
    assert "allowed" in str(e.value) or "use" in str(e.value)


def test_round_trip_dict():
    s = memlib.random_string(5, 20, entropy=1.0, seed=2)
    assert memlib.RandomString.from_dict(s.to_dict()) == s


def test_first_letter_renames_the_alphabet_and_keeps_the_draw():
    a = memlib.random_strings(3, 8, 20, seed=4)
    b = memlib.random_strings(3, 8, 20, seed=4, first_letter="i")
    assert b[0].alphabet == "ijklmnop" and set("".join(s.text for s in b)) <= set("ijklmnop")
    shift = str.maketrans("abcdefgh", "ijklmnop")
    assert [s.text.translate(shift) for s in a] == [s.text for s in b]
    for bad, message in (("t", "would run past z"), ("A", "use one letter from a to z"), ("ab", "use one letter")):
        with pytest.raises(ValueError, match=message):
            memlib.random_strings(1, 8, 5, seed=0, first_letter=bad)
