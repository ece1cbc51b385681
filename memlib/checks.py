"""The argument checks memlib's entry points share. Each returns the value when it is allowed and otherwise
raises ValueError naming the value and what is allowed, before any work starts."""

from __future__ import annotations

import math
import numbers

__all__ = ["check_int", "check_number", "check_list"]


def check_int(name: str, value, low: int) -> int:
    """``value`` as an int when it is an integer >= ``low`` (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name}={value!r} is not allowed: use an integer >= {low}")
    return int(value)


def check_number(name: str, value, kind, low, allow_equal: bool = True):
    """``value`` when it is a finite number (``kind`` int: an integer) >= ``low`` (> ``low`` unless
    ``allow_equal``), not a bool."""
    kind = numbers.Integral if kind is int else numbers.Real
    ok = isinstance(value, kind) and not isinstance(value, bool)
    ok = ok and math.isfinite(value) and (value >= low if allow_equal else value > low)
    if not ok:
        what = "an integer" if kind is numbers.Integral else "a number"
        raise ValueError(f"{name}={value!r} is not allowed: use {what} {'>=' if allow_equal else '>'} {low}")
    return value


def check_list(name: str, value) -> list:
    """``value`` as a list when it is a non-empty iterable other than a string."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ValueError(f"{name}={value!r} is not allowed: use a non-empty list")
    out = list(value)
    if not out:
        raise ValueError(f"{name}={value!r} is not allowed: use a non-empty list")
    return out


def check_runs(runs) -> list:
    runs = list(runs)
    if not runs:
        raise ValueError("runs is empty: give at least one run")
    return runs
