"""A stopping rule that tells saturation from a stall, and the capacities it lets one read (notebook 06).

One curve cannot say whether a model has reached its capacity: a run that stopped moving at 20% of its data looks
the same as one full at capacity. Two readings together can:

* **Doubling** (:func:`doubling`): memorised bits at the curve's last epoch against those at half of it (the last
  measured epoch at or before ``last / 2``). A run whose bits grew by more than ``tol`` of their last value while
  its training doubled is **rising**: more training would add bits. Otherwise it is flat.
* **Against the model's other runs** (:func:`saturation`): a flat run either holds its data (at least
  ``1 - tol`` of what can be memorised of it, ``(L - 1) / L`` of its bits: **memorised**), or holds about what the
  model holds at most on any flat run of the same group (``by``: size and precision, and in notebook 06 also the
  alphabet and the seed, which draws both the initialisation and the strings; at least ``1 - plateau_tol`` of it:
  **saturated**, the plateau), or neither: **stalled**, below both its data and its model's plateau, so the
  optimiser, not the model, stopped it. Only memorised and saturated runs count as converged; a capacity is
  read from the saturated ones (the plateau across datasets beyond capacity).

The plateau is the most any flat run of the group holds: a run that holds more than its peers would rather be
reported as the plateau than be called stalled by a lower one, so one lucky run can mark the others stalled but
never the other way round (a deliberately strict reading).

Notebook 06 trains every dataset twice, for ``E`` epochs and for ``E / 2`` (each run with its own full schedule:
with a decaying rate, the middle of a long run is not a short run), and reads the doubling from the two runs' final
measurements (:func:`dataset_table`). Per unit (a model size, precision and alphabet, one seed: one initialisation
and one draw of strings) the **capacity** is its plateau (:func:`unit_capacities`): *measured* where the plateau
is a saturated run's, a *lower bound* where it is a run that holds its whole dataset (a larger dataset might hold
more) or where no run was flat.
"""

from __future__ import annotations

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


def saturation(curves: pd.DataFrame, *, tol: float = DOUBLING_TOL, plateau_tol: float = PLATEAU_TOL,
               by=("model", "precision")) -> pd.DataFrame:
    """One row per run of ``curves`` (rows: ``run``, the columns of ``by``, ``epoch``, ``memorised`` bits,
    ``information`` of its data and ``memorisable`` share of it, as :func:`memlib.capacity.bits_by_epoch` gives with
    those two added): the run's last ``memorised`` bits and ``share``, :func:`doubling`'s ``growth``, ``plateau``
    (the most any flat run of the same group ``by`` holds) and ``status`` (one of :data:`STATUSES`, see the
    module's docstring), ``converged`` for memorised and saturated runs."""
    _check_share("plateau_tol", plateau_tol)
    by = list(by)
    need = {"run", *by, "epoch", "memorised", "information", "memorisable"}
    missing = sorted(need - set(curves.columns))
    if missing:
        raise ValueError(f"curves lacks columns {missing}: give one row per run and epoch with {sorted(need)}")
    rows = []
    for run, c in curves.sort_values("epoch").groupby("run", sort=False):
        d = doubling(c.epoch, c.memorised, tol=tol)
        last = c.iloc[-1]
        rows.append({"run": run, **{k: last[k] for k in by}, "memorised": float(last.memorised),
                     "information": float(last.information), "memorisable": float(last.memorisable),
                     "share": float(last.memorised / last.information), "growth": d["growth"], "flat": d["flat"]})
    out = pd.DataFrame(rows)
    flat = out[out.flat]
    plateau = flat.groupby(by).memorised.max().rename("plateau").reset_index()
    out = out.merge(plateau, on=by, how="left")  # NaN where no run of the group is flat
    holds_data = out.share >= (1 - tol) * out.memorisable
    at_plateau = out.memorised >= (1 - plateau_tol) * out.plateau
    out["status"] = np.where(~out.flat, "rising", np.where(holds_data, "memorised",
                                                             np.where(at_plateau, "saturated", "stalled")))
    out["converged"] = out.status.isin(["memorised", "saturated"])
    return out.drop(columns="flat")


UNIT = ["model", "precision", "alphabet_size", "seed"]  # one initialisation and one draw of strings per seed
DATASET = [*UNIT, "strings"]


def dataset_table(table: pd.DataFrame, *, tol: float = DOUBLING_TOL, plateau_tol: float = PLATEAU_TOL) -> pd.DataFrame:
    """One row per dataset of a :func:`memlib.capacity.run_table` whose datasets each ran twice (for ``E`` epochs and
    for at most ``E / 2``; :data:`DATASET` columns say which runs share a dataset): the longer run's row, with
    ``half_epochs`` and ``half_memorised`` (the shorter run's end), the doubling's ``growth``, the unit's ``plateau``
    (:data:`UNIT`: per size, precision, alphabet and seed), ``status`` and ``converged`` (:func:`saturation`).
    ValueError naming a dataset without a run at half its epochs or with more than two runs."""
    rows, curves = [], []
    for key, d in table.groupby(DATASET, sort=False):
        d = d.sort_values("epochs")
        full = d.iloc[-1]
        if len(d) != 2 or d.epochs.iloc[0] > full.epochs / 2:
            raise ValueError(f"the dataset {dict(zip(DATASET, key))} ran for epochs {d.epochs.tolist()}: the doubling "
                             f"rule needs two runs of it, one for at most half the other's epochs")
        half = d.iloc[0]
        rows.append({**full.to_dict(), "half_epochs": int(half.epochs), "half_memorised": float(half.memorised)})
        for r in (half, full):
            curves.append({"run": full.run, **{k: full[k] for k in UNIT}, "epoch": int(r.epochs),
                           "memorised": float(r.memorised), "information": float(full.information),
                           "memorisable": float(full.memorisable)})
    status = saturation(pd.DataFrame(curves), tol=tol, plateau_tol=plateau_tol, by=UNIT)
    return pd.DataFrame(rows).merge(status[["run", "growth", "plateau", "status", "converged"]], on="run")


def unit_capacities(datasets: pd.DataFrame) -> pd.DataFrame:
    """One row per unit (:data:`UNIT`) of a :func:`dataset_table`: ``capacity`` (its plateau, in bits; where no
    dataset was flat, the most any of them held), ``bits_per_param`` and ``per_non_embedding``, ``at_data`` (the bits of
    the dataset that holds it), ``kind``: ``"plateau"`` (a saturated dataset holds it: measured), ``"data-bound"``
    (a dataset held whole holds it: a lower bound, a larger dataset might hold more) or ``"rising"`` (no dataset
    flat: a lower bound), and the unit's ``datasets``, ``saturated`` and ``converged`` counts."""
    rows = []
    for key, d in datasets.groupby(UNIT, sort=False):
        flat = d[d.status != "rising"]
        best = (flat if len(flat) else d).sort_values("memorised").iloc[-1]
        kind = "rising" if not len(flat) else ("plateau" if best.status == "saturated" else "data-bound")
        rows.append({**dict(zip(UNIT, key)), "params": int(best.params), "non_embedding": int(best.non_embedding),
                     "capacity": float(best.memorised), "bits_per_param": float(best.memorised / best.params),
                     "per_non_embedding": float(best.memorised / best.non_embedding),
                     "at_data": float(best.information), "kind": kind, "datasets": len(d),
                     "saturated": int((d.status == "saturated").sum()), "converged": int(d.converged.sum())})
    return pd.DataFrame(rows)
