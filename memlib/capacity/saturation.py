"""A stopping rule that tells saturation from a stall (notebook 06 still reads its own rule,
:func:`memlib.capacity.converged`, until its presets move to the recipe this one is made for).

One curve cannot say whether a model has reached its capacity: a run that stopped moving at 20% of its data looks
the same as one full at capacity. Two readings together can:

* **Doubling** (:func:`doubling`): memorised bits at the curve's last epoch against those at half of it (the last
  measured epoch at or before ``last / 2``). A run whose bits grew by more than ``tol`` of their last value while
  its training doubled is **rising**: more training would add bits. Otherwise it is flat.
* **Against the model's other runs** (:func:`saturation`): a flat run either holds its data (at least
  ``1 - tol`` of what can be memorised of it, ``(L - 1) / L`` of its bits: **memorised**), or holds about what the
  model holds at most on any flat run of the same size and precision (at least ``1 - plateau_tol`` of it:
  **saturated**, the plateau), or neither: **stalled**, below both its data and its model's plateau, so the
  optimiser, not the model, stopped it. Only memorised and saturated runs count as converged; a capacity is
  read from the saturated ones (the plateau across datasets beyond capacity).

The plateau is the most any flat run of the model holds: a run that holds more than its peers would rather be
reported as the plateau than be called stalled by a lower one, so one lucky run can mark the others stalled but
never the other way round (a deliberately strict reading).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..checks import check_number

DOUBLING_TOL = 0.05   # a curve is flat when doubling the training added at most this share of its last value
PLATEAU_TOL = 0.10    # a flat run below its data is saturated within this share of its model's plateau
STATUSES = ("rising", "memorised", "saturated", "stalled")


def _check_share(name: str, value) -> None:
    check_number(name, value, float, 0, allow_equal=False)
    if value >= 1:
        raise ValueError(f"{name}={value!r} is not allowed: use a share in (0, 1)")


def doubling(epochs, bits, *, tol: float = DOUBLING_TOL) -> dict:
    """Memorised ``bits`` by epoch (ascending ``epochs``): ``half_epoch`` (the last measured epoch at or before half
    the last), ``growth`` (bits at the last epoch minus at ``half_epoch``, as a share of the last; 0 where the last
    is 0: nothing grew), ``flat`` (``growth <= tol``; a fall counts as flat). ValueError for
    fewer than two epochs or none at or before half the last."""
    _check_share("tol", tol)
    e, b = np.asarray(epochs, dtype=np.float64), np.asarray(bits, dtype=np.float64)
    if e.ndim != 1 or len(e) < 2 or len(b) != len(e) or (np.diff(e) <= 0).any():
        raise ValueError(f"epochs={list(epochs)!r} is not allowed: give two or more ascending epochs, one per value "
                         f"of bits")
    before = np.flatnonzero(e <= e[-1] / 2)
    if not len(before):
        raise ValueError(f"epochs={list(epochs)!r} is not allowed: no epoch at or before half the last "
                         f"({e[-1] / 2:g}); measure the curve early enough to compare a doubling")
    half, last = b[before[-1]], b[-1]
    growth = (last - half) / last if last > 0 else 0.0  # memorised bits are >= 0: a last 0 is no growth
    return {"half_epoch": int(e[before[-1]]), "growth": float(growth), "flat": bool(growth <= tol)}


def saturation(curves: pd.DataFrame, *, tol: float = DOUBLING_TOL, plateau_tol: float = PLATEAU_TOL) -> pd.DataFrame:
    """One row per run of ``curves`` (rows: ``run``, ``model``, ``precision``, ``epoch``, ``memorised`` bits,
    ``information`` of its data and ``memorisable`` share of it, as :func:`memlib.capacity.bits_by_epoch` gives with
    those two added): the run's last ``memorised`` bits and ``share``, :func:`doubling`'s ``growth``, ``plateau``
    (the most any flat run of the same model and precision holds) and ``status`` (one of :data:`STATUSES`, see the
    module's docstring), ``converged`` for memorised and saturated runs."""
    _check_share("plateau_tol", plateau_tol)
    need = {"run", "model", "precision", "epoch", "memorised", "information", "memorisable"}
    missing = sorted(need - set(curves.columns))
    if missing:
        raise ValueError(f"curves lacks columns {missing}: give one row per run and epoch with {sorted(need)}")
    rows = []
    for run, c in curves.sort_values("epoch").groupby("run", sort=False):
        d = doubling(c.epoch, c.memorised, tol=tol)
        last = c.iloc[-1]
        rows.append({"run": run, "model": last.model, "precision": last.precision, "memorised": float(last.memorised),
                     "information": float(last.information), "memorisable": float(last.memorisable),
                     "share": float(last.memorised / last.information), "growth": d["growth"], "flat": d["flat"]})
    out = pd.DataFrame(rows)
    flat = out[out.flat]
    plateau = flat.groupby(["model", "precision"]).memorised.max()
    out["plateau"] = [plateau.get((m, p), math.nan) for m, p in zip(out.model, out.precision)]
    holds_data = out.share >= (1 - tol) * out.memorisable
    at_plateau = out.memorised >= (1 - plateau_tol) * out.plateau
    out["status"] = np.where(~out.flat, "rising", np.where(holds_data, "memorised",
                                                             np.where(at_plateau, "saturated", "stalled")))
    out["converged"] = out.status.isin(["memorised", "saturated"])
    return out.drop(columns="flat")
