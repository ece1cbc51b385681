"""How tables and figures name things: a learning rate, and the setting a run belongs to."""

from __future__ import annotations

__all__ = ["lr_label", "setting"]


def lr_label(lr: float) -> str:
    """``1e-4``, ``5e-4``, ``2.5e-5``: a learning rate as people write it."""
    mantissa, exponent = f"{lr:e}".split("e")
    return f"{float(mantissa):g}e{int(exponent)}"


def setting(run, *, strings: bool = False) -> str:
    """``"model, lr X"``: the setting a run's results are pooled under (notebook 03's tables and figures).
    With ``strings``, its training strings too: ``"model, lr X, l letters, H=h"`` (and the distribution
    family where it is not the exponential one; notebook 05)."""
    c = run.config
    label = f"{c['model']}, lr {lr_label(c['lr'])}"
    if not strings:
        return label
    s = c["train"][0]
    size = len(s.get("alphabet") or "")
    h = s.get("entropy", float("nan"))
    family = "" if s.get("family", "exponential") == "exponential" else f" ({s['family']})"
    return f"{label}, {size} letters, H={h:.1f}{family}"
