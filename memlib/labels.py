"""How tables, figures and verdicts name things: a learning rate, the setting a run belongs to, a range, a count."""

from __future__ import annotations

import pandas as pd

__all__ = ["MOMENT_LABELS", "moment_label", "moment_order", "lr_label", "setting", "span", "plural"]

# The moments of a run at which its probes are read (memlib.ProbeSpec.at).
MOMENT_LABELS = {"memorised": "just memorised", "last": "end of run"}


def moment_label(moment) -> str:
    """How a probe moment reads: ``"just memorised"``, ``"memorised + 12 epochs"``, ``"end of run"``, ``"epoch 5"``."""
    moment = str(moment)
    if moment in MOMENT_LABELS:
        return MOMENT_LABELS[moment]
    if moment.startswith("memorised+"):
        return f"memorised + {moment[len('memorised+'):]} epochs"
    return f"epoch {moment}"


def moment_order(moments) -> list[str]:
    """The distinct ``moments`` in the order of a run: just memorised, N epochs after it (by N), epochs, the end."""
    def key(m):
        m = str(m)
        if m == "memorised":
            return (0, 0)
        if m.startswith("memorised+"):
            return (1, int(m[len("memorised+"):]))
        return (3, 0) if m == "last" else (2, int(m) if m.isdigit() else 0)
    return sorted(dict.fromkeys(map(str, moments)), key=key)


def lr_label(lr: float) -> str:
    """``1e-4``, ``5e-4``, ``2.5e-5``: a learning rate as people write it."""
    mantissa, exponent = f"{lr:e}".split("e")
    return f"{float(mantissa):g}e{int(exponent)}"


def setting(run, *, strings: bool = False) -> str:
    """``"model, lr X"``: the setting a run's results are pooled under (notebook 03's tables and figures).
    With ``strings``, its training strings too: ``"model, lr X, l letters, H=h"`` (and the distribution
    family where it is not the exponential one; notebook 05)."""
    c = run.config
    label = f"{c.model}, lr {lr_label(c.lr)}"
    if not strings:
        return label
    s = c.train[0]
    size = len(s.get("alphabet") or "")
    h = s.get("entropy", float("nan"))
    family = "" if s.get("family", "exponential") == "exponential" else f" ({s['family']})"
    return f"{label}, {size} letters, H={h:.1f}{family}"


def span(values, fmt: str = "{:.0f}", none: str = "none") -> str:
    """``"3"`` or ``"3-7"``: the range of ``values`` (NaN left out) as verdicts print it; ``none`` when there is none."""
    values = [v for v in values if pd.notna(v)]
    if not values:
        return none
    lo, hi = min(values), max(values)
    return fmt.format(lo) if lo == hi else f"{fmt.format(lo)}-{fmt.format(hi)}"


def plural(n: int, word: str) -> str:
    """``"1 seed"``, ``"3 seeds"``."""
    return f"{n} {word}" + ("" if n == 1 else "s")


def run_columns(run) -> dict:
    c = run.config
    s = c.train[0]
    return {"setting": setting(run, strings=True), "model": c.model, "lr": c.lr, "seed": c.seed, "run": run.key[:12],
            "alphabet_size": len(s.get("alphabet") or ""), "string_entropy": s.get("entropy", float("nan"))}
