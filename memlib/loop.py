"""The training loop: a model exposed to the stages of a :class:`memlib.config.RunConfig`, epoch after epoch.

:func:`train` runs it and returns what it measured; :func:`to_run` turns that into a
:class:`memlib.Run`. Everything around the loop lives beside it: argument checks, the run store and
the config in :mod:`memlib.training` (:func:`memlib.expose`, :func:`memlib.expose_schedule`), checkpoints in
:mod:`memlib.checkpoint`. Measurements taken inside the run attach as :class:`Hook` s (held-out strings:
:class:`memlib.evaluation.HeldOut`; the probes: :class:`memlib.probes.Prober`): the loop calls each at the top of
every epoch and at every measured epoch, and keeps what they return.

Per stage, per epoch: the strings the stage trains go through one forward pass per batch, which gives
both the loss and that epoch's measurements (the model after ``e`` epochs, before its next update), then
one AdamW step per batch. At the stage's last epoch (its fixed length or ``max_epochs``) they are
measured by a no-grad pass instead. An ``until`` stage stops at the first epoch whose training pass
completes ``hold`` epochs in a row at mean accuracy ``>= until`` (that pass is its measurement; no
update follows); one that runs to ``max_epochs`` counts as memorised if its last measurement completes
the streak. Held-out strings, and the strings the running stage does not train, are measured with
no-grad passes where a hook asks (:class:`memlib.evaluation.HeldOut`) and at the end. Epoch ``e`` counts updates
since the start.
"""

from __future__ import annotations

import contextlib
import math
import sys
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np
import pandas as pd
import torch

from .config import PlannedStage, RunConfig
from .metrics import METRIC_COLUMNS, Streak, reaches, string_summary, token_metrics
from .models import LoadedModel
from .store import Run

__all__ = ["Hook", "Moment", "forward", "lr_factor", "train", "to_run", "progress_bar"]


def progress_bar(total: int, desc: str):
    """A plain-text bar (never a widget: widget bars bloat notebooks executed by papermill),
    refreshed at most every 2 s so an executed notebook keeps a few KB of it."""
    from tqdm.std import tqdm

    return tqdm(total=total, desc=desc, unit="epoch", file=sys.stderr, mininterval=2.0, leave=True,
                dynamic_ncols=False, ncols=100)


class Hook:
    """Something that happens inside a run at fixed points of the loop; a subclass overrides what it needs.

    - :meth:`on_epoch_start`: at the top of every epoch of every stage (a :class:`Moment`: where the loop is, and
      no-grad measurements into the run's metrics); :class:`memlib.evaluation.HeldOut` is one.
    - :meth:`on_epoch`: with the weights after ``epoch`` epochs, before that epoch's update (runs of one optimiser
      step per epoch), and at a stage's last epoch after its last update; :class:`memlib.probes.Prober` is one.
    - Its arrays are stored with the run (:meth:`results`: their names its own, e.g. ``probe_*``) and kept in
      checkpoints (:meth:`state`, :meth:`restore`).

    What a hook measures must be part of the run's configuration, and so of its key: a new one is declared as a
    :class:`memlib.config.Measurement` (its settings) that builds its hook (:meth:`Measurement.hook`). Checkpoints
    are not a hook: they keep and restore the loop's whole state, every hook's included."""

    def on_epoch_start(self, at: "Moment") -> None:
        """At the top of epoch ``at.epoch``, after a checkpoint taken there (which holds what was measured before)."""

    def on_epoch(self, epoch: int, accuracy: float) -> None:
        """``accuracy``: the mean training accuracy the epoch's training pass (or last measurement) just gave."""

    def state(self) -> dict[str, np.ndarray]:
        """What a checkpoint keeps to resume it."""
        return {}

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        """Take back a :meth:`state` (every hook's arrays of the checkpoint: it picks its own)."""

    def results(self) -> dict[str, np.ndarray]:
        """What the run stores, at its end."""
        return {}


@dataclass(frozen=True)
class Moment:
    """Where the loop is at the top of an epoch: ``epoch`` (updates since the start), ``stage`` and the stage's own
    epoch ``t``, the training strings the stage does not train (``others``); ``measure(split, strings)`` measures
    strings of ``"train"`` or ``"test"`` at this epoch with a no-grad pass into the run's metrics (each string once
    per epoch)."""

    epoch: int
    stage: int
    t: int
    others: tuple
    measure: Callable[[str, Iterable[int]], None]


@dataclass
class _Position:
    """Where the loop is: the epoch ``e`` (updates so far), the stage ``k`` and its epoch ``t``, the
    optimiser steps of the stage, the ``until`` streak, and what finished stages recorded."""

    e: int = 0
    k: int = 0
    t: int = 0
    step: int = 0
    streak: int = 0
    bounds: list = field(default_factory=list)
    memorised: list = field(default_factory=list)

    def state(self) -> dict:  # the checkpoint's "state"
        return {"epoch": self.e, "stage": self.k, "t": self.t, "step": self.step, "streak": self.streak,
                "bounds": self.bounds, "memorised": self.memorised}


class _Loop:
    """One run of the loop: :meth:`run` goes through the stages; each stage through its epochs (:meth:`_stage`),
    each epoch trains (:meth:`_epoch`, :meth:`_update`) or, at the stage's end, measures (:meth:`_last_epoch`)."""

    def __init__(self, model: LoadedModel, config: RunConfig, progress, checkpoint, hooks):
        self.model, self.net, self.config, self.amp = model, model.model, config, config.autocast
        self.checkpoint, self.hooks = checkpoint, tuple(hooks)
        device = model.device
        self.alphas = {"train": config.alphabets("train"), "test": config.alphabets("test")}
        self.alpha_ids = {a: torch.tensor(model.letter_ids(a), device=device)
                          for a in {*self.alphas["train"], *self.alphas["test"]}}
        self.ids = {"train": _encode(model, config.train), "test": _encode(model, config.test) if config.test else None}
        self.records = {"train": {}, "test": {}}
        self.pos = _Position()
        self.resumed_at = None
        # fused AdamW: one kernel over all parameters (fused against foreach: benchmarks/RESULTS.md, profile)
        self.fused = {"fused": True} if device.type in ("cpu", "cuda") and not model.sharded else {"foreach": True}
        self.own_bar = not hasattr(progress, "update")
        if self.own_bar:
            total = sum(s.limit for s in config.stages)
            self.bar = progress_bar(total, f"expose {model.name}") if progress else None
        else:
            self.bar = progress

    def run(self) -> dict:
        saved = self.checkpoint.load(set(self.net.state_dict())) if self.checkpoint is not None else None
        opt = None
        for k, stage in enumerate(self.config.stages):
            if saved is not None and k < saved["state"]["stage"]:
                continue  # finished before the checkpoint: its bounds and measurements come from it
            if opt is None or self.config.reset_optimizer:
                opt = torch.optim.AdamW(self.net.parameters(), lr=self.config.lr, betas=(0.9, 0.999), eps=1e-8,
                                        weight_decay=self.config.weight_decay, **self.fused)
            self.pos.k, self.pos.t, self.pos.step, self.pos.streak = k, 0, 0, 0
            if saved is not None:  # resume inside this stage, exactly where the checkpoint was taken
                self._resume(saved, opt)
                saved = None
            else:
                self.pos.bounds.append(self.pos.e)
            self.streak = Streak(stage.until, stage.hold) if stage.until is not None else None
            if self.streak is not None:
                self.streak.length = self.pos.streak
            stop = self._stage(stage, opt)
            self.pos.memorised.append(self.pos.t - stage.hold + 1 if stop else -1)
        return self._finish()

    def _stage(self, stage: PlannedStage, opt) -> bool:
        """Run one stage from ``self.pos.t`` on; True if an ``until`` stage met its threshold."""
        members = list(stage.strings)
        others = tuple(j for j in range(len(self.config.train)) if j not in members)
        bs = self.config.batch_size or len(members)
        total = stage.limit * math.ceil(len(members) / bs)  # optimiser steps of the stage at its longest
        decay = lr_factor(self.config.lr_schedule, total, self.config.warmup)
        for t in range(self.pos.t, stage.limit + 1):
            self.pos.t, e = t, self.pos.e
            if self.checkpoint is not None and self.checkpoint.due(e, t, self.resumed_at):
                self.checkpoint.save(net=self.net, opt=opt, records=self.records,
                                     hooks={k: a for h in self.hooks for k, a in h.state().items()},
                                     state=self.pos.state())
            at = Moment(e, self.pos.k, t, others, lambda split, idx, e=e: self._measure(split, e, idx))
            for hook in self.hooks:
                hook.on_epoch_start(at)
            if t == stage.limit:  # the stage's last epoch: measured, not trained
                return self._last_epoch(stage, members, bs)
            rows, stop, loss = self._epoch(stage, members, bs, opt, decay)
            done = self.records["train"].setdefault(e, {})
            done.update({j: r for j, r in rows.items() if j not in done})
            if stop:
                return True
            self.pos.e += 1
            if self.bar is not None:
                acc = np.mean([r["accuracy"] for r in rows.values()])
                self.bar.set_postfix(acc=f"{acc:.3f}", loss=f"{loss.item():.3f}", refresh=False)
                self.bar.update(1)
        raise AssertionError("unreachable: a stage ends at its last epoch")

    def _epoch(self, stage: PlannedStage, members: list[int], bs: int, opt, decay):
        """One epoch of training: per batch, the forward pass that measures it, then one update.
        Returns (rows of the measured strings, whether an ``until`` stage stops here, the last loss)."""
        self.net.train(self.config.dropout)  # eval mode (dropout off) unless asked; gradients flow either way
        parts, stop, loss = [], False, None
        if self.config.shuffle:  # a new order every epoch, from the run's seed and the epoch (so a resume repeats it)
            members = [members[i] for i in np.random.default_rng([self.config.seed, self.pos.e]).permutation(len(members))]
        for i in range(0, len(members), bs):
            tm = forward(self.model, self.ids["train"][members[i:i + bs]], self._alpha_ids("train", members[i]),
                          self.amp)
            parts.append(tm)
            if self.streak is not None:  # one batch: the accuracy of the whole stage, before its update
                held = reaches(int(tm["correct"].sum()), stage.until, tm["correct"].numel())
                stop = self.streak.update(self.pos.e, held)
                self.pos.streak = self.streak.length
                if stop:
                    break
            loss = tm["nll"].mean()
            self._update(loss, tm, opt, decay)
        return _rows(members, _record(parts)), stop, loss

    def _update(self, loss, tm, opt, decay) -> None:
        if not torch.isfinite(loss):  # stop: nothing of this run is stored
            raise FloatingPointError(
                f"the training loss became {loss.item()} at epoch {self.pos.e} (model {self.model.name}, lr "
                f"{self.config.lr}, seed {self.config.seed}): the run is stopped and nothing is stored; "
                f"try a lower lr or max_grad_norm=1.0")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        for hook in self.hooks:  # one step per epoch: the weights after `epoch` epochs, before the update
            hook.on_epoch(self.pos.e, tm["correct"].float().mean().item())
        if self.config.max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.config.max_grad_norm)
        for group in opt.param_groups:
            group["lr"] = self.config.lr * decay(self.pos.step)
        opt.step()
        self.pos.step += 1

    def _last_epoch(self, stage: PlannedStage, members: list[int], bs: int) -> bool:
        """Measure the stage's strings after its last update; True if that completes an ``until`` streak."""
        e = self.pos.e
        self._measure("train", e, members, bs)
        for hook in self.hooks:
            hook.on_epoch(e, np.mean([self.records["train"][e][j]["accuracy"] for j in members]))
        if self.streak is None:
            return False
        hits = sum(int(self.records["train"][e][j]["correct"].sum()) for j in members)
        length = self.ids["train"].shape[1] - 1
        return self.streak.update(e, reaches(hits, stage.until, len(members) * length))

    def _resume(self, saved: dict, opt) -> None:
        st = saved["state"]
        self.pos = _Position(e=st["epoch"], k=st["stage"], t=st["t"], step=st["step"], streak=st["streak"],
                             bounds=list(st["bounds"]), memorised=list(st["memorised"]))
        self.records["train"], self.records["test"] = saved["records"]["train"], saved["records"]["test"]
        self.net.load_state_dict(saved["weights"])
        opt.load_state_dict(saved["optimizer"])
        torch.set_rng_state(saved["rng_cpu"])
        for i, state in enumerate(saved["rng_cuda"]):
            torch.cuda.set_rng_state(state, i)
        for hook in self.hooks:
            hook.restore(saved["hooks"])
        self.resumed_at = self.pos.e
        if self.bar is not None:
            self.bar.update(self.pos.e)

    def _finish(self) -> dict:
        """The end: held-out strings and every training string measured once more, the stage bounds recorded."""
        e = self.pos.e
        self.pos.bounds.append(e)
        if self.ids["test"] is not None:
            self._measure("test", e, range(len(self.config.test)))
        self._measure("train", e, range(len(self.config.train)))
        self.records["stages"] = {"stage_bounds": np.array(self.pos.bounds, dtype=np.int64),
                                  "stage_memorised": np.array(self.pos.memorised, dtype=np.int64)}
        self.records["hooks"] = {k: a for h in self.hooks for k, a in h.results().items()}
        if self.resumed_at is not None:
            self.records["resumed_from"] = self.resumed_at
        if self.bar is not None and self.own_bar:
            self.bar.set_postfix(acc=f"{np.mean([r['accuracy'] for r in self.records['train'][e].values()]):.3f}")
            self.bar.close()
        return self.records

    def _alpha_ids(self, split: str, j: int) -> torch.Tensor:
        return self.alpha_ids[self.alphas[split][j]]

    def _measure(self, split: str, e: int, idx, batch_size: int | None = None) -> None:
        """No-grad measurements of the strings ``idx`` of ``split`` at epoch ``e`` not yet measured there,
        each against its alphabet, batched per alphabet (``batch_size``: all strings of the split at once, memory
        allowing)."""
        batch_size = batch_size or len(self.config.train if split == "train" else self.config.test)
        done = self.records[split].setdefault(e, {})
        todo = [j for j in idx if j not in done]
        for a in dict.fromkeys(self.alphas[split][j] for j in todo):
            group = [j for j in todo if self.alphas[split][j] == a]
            done.update(_rows(group, _evaluate(self.model, self.ids[split][group], self.alpha_ids[a], self.amp,
                                               batch_size)))


def train(model: LoadedModel, config: RunConfig, progress=None, checkpoint=None, hooks=()) -> dict:
    """Run the loop of ``config`` on ``model`` (its weights change: the caller restores them) under
    ``torch`` seeded with ``config.seed`` (the global generators are put back afterwards).

    - Forward passes run under bf16 autocast where ``config.autocast`` says so.
    - ``progress``: True/False for a bar of its own, or an existing bar to advance; ``checkpoint``: a
      :class:`memlib.checkpoint.Checkpoint` to save to and resume from; ``hooks``: the run's in-run
      measurements (:class:`Hook` s): without :class:`memlib.evaluation.HeldOut`, held-out strings and
      the strings a stage does not train are measured only at the end (:func:`memlib.training.hooks` gives a
      run's full list).

    Returns ``{"train": {epoch: {string: row}}, "test": {...}, "stages": {...}, "hooks": {name: array}}``
    (and
    ``"resumed_from"`` where they apply), for :func:`to_run`.
    """
    rng_devices = [model.device] if model.device.type == "cuda" else []
    with torch.random.fork_rng(devices=rng_devices):
        torch.manual_seed(config.seed)
        return _Loop(model, config, progress, checkpoint, hooks).run()


def _encode(model: LoadedModel, strings) -> torch.Tensor:
    return torch.tensor([model.encode(d["text"]) for d in strings], dtype=torch.long, device=model.device)


def lr_factor(schedule: str, total: int, warmup: float = 0.0) -> Callable[[int], float]:
    """The learning rate's factor at optimiser step ``s`` (0-based) of ``total``: a linear warm-up over the first
    ``round(warmup * total)`` steps (step ``s`` at ``(s + 1) / n``), then ``"constant"`` 1, ``"linear"`` decay or
    ``"cosine"`` decay (half a cosine), each from 1 at the end of the warm-up towards 0 at ``total``."""
    n = round(warmup * total)

    def factor(s: int) -> float:
        if s < n:
            return (s + 1) / n
        if schedule == "linear":
            return 1.0 - (s - n) / (total - n)
        if schedule == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * (s - n) / (total - n)))
        return 1.0

    return factor


def forward(model: LoadedModel, ids: torch.Tensor, alphabet_ids: torch.Tensor, amp):
    """Logits for ``ids[:, :-1]`` scored against ``ids[:, 1:]``: every character, none of BOS."""
    ctx = torch.autocast(ids.device.type, dtype=torch.bfloat16) if amp else contextlib.nullcontext()
    with ctx:
        logits = model.model(input_ids=ids[:, :-1], use_cache=False).logits
    return token_metrics(logits, ids[:, 1:], alphabet_ids)


_LOGITS_LIMIT = 2 ** 28  # floats of logits per no-grad batch (1 GiB): many held-out strings go in several batches


@torch.no_grad()
def _evaluate(model: LoadedModel, ids: torch.Tensor, alphabet_ids, amp, batch_size: int):
    model.model.eval()
    batch_size = max(1, min(batch_size, _LOGITS_LIMIT // max(1, (ids.shape[1] - 1) * int(model.model.config.vocab_size))))
    parts = [forward(model, ids[i:i + batch_size], alphabet_ids, amp) for i in range(0, len(ids), batch_size)]
    return _record(parts)


def _record(parts: list[dict]) -> dict[str, np.ndarray]:
    """Per-string summaries and per-position arrays of one evaluation, on the CPU."""
    out = {}
    for name, values in zip(METRIC_COLUMNS, zip(*[string_summary(p).values() for p in parts])):
        out[name] = torch.cat(values).cpu().numpy().astype(np.float64)
    out["correct"] = torch.cat([p["correct"] for p in parts]).cpu().numpy()
    out["p_true"] = torch.cat([p["p_true"] for p in parts]).float().cpu().numpy()
    return out


def _rows(idx: list[int], record: dict[str, np.ndarray]) -> dict[int, dict]:
    """One record of several strings split into one row per string."""
    return {j: {name: values[i] for name, values in record.items()} for i, j in enumerate(idx)}


def _string_columns(d: dict) -> dict:
    """What a string offers to guess from: its distribution's entropy, its own letter
    frequencies' entropy, and the accuracy of always predicting its most frequent letter."""
    text = d["text"]
    freqs = [text.count(c) / len(text) for c in sorted(set(text))]
    return {
        "string_entropy": d.get("entropy", float("nan")),
        "empirical_entropy": -sum(f * math.log2(f) for f in freqs),
        "unigram_guess": max(freqs),
    }


def _stage_of(stages, bounds, epoch: int, string: int | None) -> tuple[int, bool]:
    """``(stage, trained)`` of a measurement at ``epoch``: the (last) stage that trains ``string``
    and spans ``epoch`` (from its start to its end, both included: a stage's last measurement is its
    own), else the last stage started by then."""
    mine = [k for k, st in enumerate(stages) if string in st.strings and bounds[k] <= epoch <= bounds[k + 1]]
    if mine:
        return mine[-1], True
    return int(min(np.searchsorted(bounds[:-1], epoch, side="right") - 1, len(bounds) - 2)), False


def to_run(config: RunConfig, records: dict) -> Run:
    """The :class:`memlib.Run` of what :func:`train` measured: one metrics row per (epoch, split, string)
    and the per-position arrays. A schedule's rows say their ``stage`` and whether it ``trained`` the
    string, and its arrays carry the stage bounds and which strings were measured when."""
    rows, arrays = [], {}
    stages = records["stages"] if config.is_schedule else None
    for split, strings in (("train", config.train), ("test", config.test)):
        recs = records[split]
        if not recs:
            continue
        epochs = sorted(recs)
        length = len(strings[0]["text"])
        columns = [_string_columns(d) for d in strings]  # per string, not per (epoch, string): the same floats
        correct = np.zeros((len(epochs), len(strings), length), dtype=bool)
        p_true = np.full((len(epochs), len(strings), length), np.nan, dtype=np.float32)
        measured = np.zeros((len(epochs), len(strings)), dtype=bool)
        for i, e in enumerate(epochs):
            for j in sorted(recs[e]):
                r = recs[e][j]
                row = {"model": config.model, "seed": config.seed, "epoch": e, "split": split, "string": j}
                if stages:
                    row["stage"], row["trained"] = _stage_of(config.stages, stages["stage_bounds"], e,
                                                             j if split == "train" else None)
                row.update({m: float(r[m]) for m in METRIC_COLUMNS})
                row.update(columns[j])
                rows.append(row)
                correct[i, j], p_true[i, j], measured[i, j] = r["correct"], r["p_true"], True
        arrays[f"{split}_epochs"] = np.array(epochs, dtype=np.int64)
        arrays[f"{split}_correct"] = correct
        arrays[f"{split}_p_true"] = p_true
        if stages:  # a schedule measures the strings it does not train only at some epochs
            arrays[f"{split}_measured"] = measured
    arrays.update(records.get("hooks", {}))
    arrays.update(stages or {})
    return Run(config=config, metrics=pd.DataFrame(rows), arrays=arrays)
