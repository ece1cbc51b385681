"""Seeded random strings over small alphabets, optionally at a target entropy.

The alphabet of size ``l`` is the first ``l`` lowercase letters (or the ``l`` letters from
``first_letter`` on). Characters are drawn i.i.d. from a distribution over the alphabet:

* ``entropy=None``: uniform, entropy ``log2(l)`` bits per character.
* ``entropy=H``: a distribution from a one-parameter family whose entropy is
  ``H`` (to within 1e-9 bits; the check is 1e-3), found by bisection on the
  parameter. Two families are available because, at a fixed entropy, the shape
  of the distribution is a choice that can change conclusions:

  - ``"exponential"`` (default): ``p_i ∝ exp(-beta * i)`` for letter rank
    ``i = 0..l-1``. ``beta = 0`` is uniform; entropy falls monotonically
    towards 0 as ``beta`` grows. Probabilities decay geometrically with rank.
  - ``"spike"``: one heavy letter, ``p_0 = q`` and the other ``l-1`` letters
    share ``1-q`` equally, ``q`` in ``[1/l, 1)``. Entropy falls monotonically
    from ``log2(l)`` to 0 as ``q`` grows.

Sampling uses a private :class:`random.Random` (Mersenne Twister) seeded with
``seed`` and inverse-CDF lookup in float64, so the same arguments give the same
characters on every machine and Python version (``Random.random`` is the one
stream Python guarantees to keep). No global random state is touched.
"""

from __future__ import annotations

import bisect
import math
import numbers
import random
import string as _string
from collections import Counter
from dataclasses import dataclass

import numpy as np

from .checks import check_int

__all__ = [
    "self_information",
    "as_string_dict",
    "alphabet_of",
    "string_parts",
    "FAMILIES",
    "RandomString",
    "alphabet",
    "distribution",
    "entropy_bits",
    "random_string",
    "random_strings",
]

FAMILIES = ("exponential", "spike")
_TOL_BITS = 1e-9


def alphabet(size: int) -> str:
    """The first ``size`` lowercase letters (2 <= size <= 26)."""
    if isinstance(size, bool) or not isinstance(size, numbers.Integral) or not 2 <= size <= 26:
        raise ValueError(f"alphabet_size={size!r} is not allowed: use an integer from 2 to 26")
    return _string.ascii_lowercase[: int(size)]


def entropy_bits(probs) -> float:
    """Shannon entropy in bits of a probability vector (zeros ignored)."""
    return -sum(p * math.log2(p) for p in probs if p > 0)


def _exponential(size: int, beta: float) -> list[float]:
    w = [math.exp(-beta * i) for i in range(size)]  # exp(0) = 1 keeps the max term exact
    z = sum(w)
    return [x / z for x in w]


def _spike(size: int, q: float) -> list[float]:
    rest = (1.0 - q) / (size - 1)
    return [q] + [rest] * (size - 1)


def distribution(alphabet_size: int, entropy: float | None = None, family: str = "exponential") -> tuple[float, ...]:
    """Probabilities of the first ``alphabet_size`` letters, hitting ``entropy`` bits.

    ``entropy=None`` gives the uniform distribution. Otherwise
    ``0 < entropy <= log2(alphabet_size)``; see the module docstring for the
    families.
    """
    size = len(alphabet(alphabet_size))
    entropy = float(entropy) if isinstance(entropy, numbers.Real) and not isinstance(entropy, bool) else entropy
    if family not in FAMILIES:
        raise ValueError(f"family={family!r} is not allowed: use one of {', '.join(FAMILIES)}")
    h_max = math.log2(size)
    if entropy is None:
        return tuple([1.0 / size] * size)
    if isinstance(entropy, bool) or not isinstance(entropy, numbers.Real) or not math.isfinite(entropy):
        raise ValueError(f"entropy={entropy!r} is not allowed: use None or a number in (0, {h_max:.6g}]")
    if not 0 < entropy <= h_max + 1e-12:
        raise ValueError(
            f"entropy={entropy!r} is not allowed for alphabet_size={size}: "
            f"use a value in (0, log2({size}) = {h_max:.6g}] bits per character"
        )
    if entropy >= h_max - _TOL_BITS:
        return tuple([1.0 / size] * size)
    make = _exponential if family == "exponential" else _spike
    # entropy(param) decreases monotonically on [lo, hi]; bisect until it is within tolerance.
    lo, hi = (0.0, 1.0) if family == "exponential" else (1.0 / size, 1.0)
    if family == "exponential":
        while entropy_bits(make(size, hi)) > entropy:
            hi *= 2.0
            if hi > 1e6:  # entropy too close to 0 to represent
                raise ValueError(f"entropy={entropy!r} is too small to reach with the {family} family")
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        h = entropy_bits(make(size, mid))
        if abs(h - entropy) <= _TOL_BITS:
            break
        lo, hi = (mid, hi) if h > entropy else (lo, mid)
    probs = make(size, mid)
    if abs(entropy_bits(probs) - entropy) > 1e-3:
        raise ValueError(f"entropy={entropy!r} could not be reached with the {family} family")
    return tuple(probs)


@dataclass(frozen=True)
class RandomString:
    """A random string and how it was made.

    ``entropy`` is the entropy of the sampling distribution (bits/char);
    ``empirical_entropy`` that of the string's own character frequencies.
    """

    text: str
    alphabet: str
    probs: tuple[float, ...]
    entropy: float
    empirical_entropy: float
    family: str
    seed: int
    index: int = 0

    def __str__(self) -> str:
        return self.text

    def __len__(self) -> int:
        return len(self.text)

    def to_dict(self) -> dict:
        return {
            "text": self.text,
            "alphabet": self.alphabet,
            "probs": list(self.probs),
            "entropy": self.entropy,
            "empirical_entropy": self.empirical_entropy,
            "family": self.family,
            "seed": self.seed,
            "index": self.index,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "RandomString":
        return cls(**{**d, "probs": tuple(d["probs"])})


def _letters(alphabet_size: int, first_letter: str) -> str:
    size = len(alphabet(alphabet_size))
    if not isinstance(first_letter, str) or len(first_letter) != 1 or first_letter not in _string.ascii_lowercase:
        raise ValueError(f"first_letter={first_letter!r} is not allowed: use one letter from a to z")
    start = _string.ascii_lowercase.index(first_letter)
    if start + size > 26:
        raise ValueError(f"first_letter={first_letter!r} is not allowed with alphabet_size={size}: the alphabet would "
                         f"run past z (use a letter up to {_string.ascii_lowercase[26 - size]!r})")
    return _string.ascii_lowercase[start:start + size]


def _empirical_entropy(text: str) -> float:
    n = len(text)
    return entropy_bits([c / n for c in Counter(text).values()])


def random_strings(
    n: int,
    alphabet_size: int,
    length: int,
    *,
    entropy: float | None = None,
    seed: int,
    family: str = "exponential",
    first_letter: str = "a",
) -> list[RandomString]:
    """``n`` strings drawn one after another from one generator seeded with ``seed``.

    The alphabet is ``alphabet_size`` consecutive letters from ``first_letter`` (default the first
    letters, ``a``..; ``first_letter="i"`` with 8 letters gives ``i``-``p``, disjoint from ``a``-``h``).
    A string's characters are drawn by rank, so the same arguments with another ``first_letter``
    give the same strings with the letters renamed.

    The first ``k`` strings of ``random_strings(n, ...)`` equal
    ``random_strings(k, ...)``, so training and held-out strings can be cut
    from one call and stay the same when more held-out strings are asked for
    at the end.
    """
    n, length, seed = check_int("n", n, 1), check_int("length", length, 1), check_int("seed", seed, 0)
    letters = _letters(alphabet_size, first_letter)
    probs = distribution(alphabet_size, entropy, family)
    cdf, acc = [], 0.0
    for p in probs:
        acc += p
        cdf.append(acc)
    cdf[-1] = 1.0
    rng = random.Random(seed)
    out = []
    h = entropy_bits(probs)
    for i in range(n):
        text = "".join(letters[bisect.bisect_right(cdf, rng.random())] for _ in range(length))
        out.append(RandomString(text, letters, probs, h, _empirical_entropy(text), family, seed, i))
    return out


def random_string(
    alphabet_size: int,
    length: int,
    *,
    entropy: float | None = None,
    seed: int,
    family: str = "exponential",
    first_letter: str = "a",
) -> RandomString:
    """One random string; equal to ``random_strings(1, ...)[0]``."""
    return random_strings(1, alphabet_size, length, entropy=entropy, seed=seed, family=family,
                          first_letter=first_letter)[0]


def as_string_dict(s) -> dict:
    """A training or held-out string as a run's configuration stores it: a :class:`RandomString`'s
    ``to_dict()``, or ``{"text": s}`` for a plain ``str``."""
    if isinstance(s, RandomString):
        return s.to_dict()
    if isinstance(s, str):
        return {"text": s}
    raise TypeError(f"strings must be memlib RandomString or str, not {type(s).__name__}")


def alphabet_of(strings: list[dict]) -> str:
    """Union of the stored strings' alphabets (a plain ``str`` counts as a..its largest letter)."""
    letters = set()
    for d in strings:
        letters |= set(d.get("alphabet") or "abcdefghijklmnopqrstuvwxyz"[: ord(max(d["text"])) - 96])
    return "".join(sorted(letters))


def string_parts(string) -> tuple[str, str, np.ndarray]:
    """``(text, alphabet, probs)`` of a RandomString, its ``to_dict()`` or a plain str (uniform over
    a..its largest letter)."""
    d = string if isinstance(string, dict) else as_string_dict(string)
    text = d.get("text")
    if not isinstance(text, str) or not text:
        raise ValueError(f"string text {text!r} is not allowed: use a non-empty string of letters")
    alphabet = d.get("alphabet") or alphabet_of([d])
    probs = np.asarray([1.0] * len(alphabet) if d.get("probs") is None else d["probs"], dtype=np.float64)
    if len(probs) != len(alphabet) or (probs < 0).any() or not probs.sum() > 0:
        raise ValueError(f"probs={probs.tolist()} do not fit alphabet {alphabet!r}: give one weight >= 0 per letter")
    bad = sorted(set(text) - set(alphabet))
    if bad:
        raise ValueError(f"string {text[:20]!r} has letters {bad} outside its alphabet {alphabet!r}")
    return text, alphabet, probs / probs.sum()


def self_information(string) -> float:
    """``-sum_i log2 p(s_i)`` in bits: what it takes to write the string down knowing only its distribution
    (a RandomString, its ``to_dict()`` or a plain str, as :func:`string_parts` reads them)."""
    text, alphabet, probs = string_parts(string)
    p = dict(zip(alphabet, probs))
    return float(-sum(math.log2(p[ch]) for ch in text))
