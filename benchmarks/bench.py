"""Benchmark: memlib's exposure loop against a bare training loop and the paper's Trainer recipe.

Run with ``make bench`` (or ``python benchmarks/bench.py --help``). Never part of the tests.
Sections (``--sections``, default all but ``compile`` and ``profile``):

ratios   In one process, alternating between methods over ``--reps`` repetitions after a
         warm-up, on the same model, strings and epochs (default: SmolLM2-135M, one 128-character
         training string, 10 held-out strings, 5 epochs):
           (a)  bare loop: forward, cross-entropy, backward, AdamW step; nothing else (the floor)
           (a') (a) plus one no-grad forward per held-out string after the last epoch: the floor
                for any schedule that measures the held-out strings at least once
           (b)  memlib.expose, all metrics, train and held-out strings, default schedule ("auto")
           (b') memlib.expose, all metrics, training string only
           (c)  memlib.expose evaluating every held-out string at every epoch (eval_every=1)
           (d)  a re-implementation of the paper's released recipe: HF Trainer plus a callback that,
                before training and after every epoch, runs one forward for the loss and another
                for the correctness on the training string and on each held-out string, plus the
                Trainer's own evaluation on the held-out strings
long     (a) and (b) over a run long enough to memorise (``--long-epochs``, default 40).
mfu      Bare-loop steps at ``--mfu-length`` (default 256) characters, each followed by a short
         burst of 2048x2048 fp32 matmuls: model FLOP utilisation = 6 x parameters x tokens / step
         time / matmul peak, as the median over steps (each step against its neighbouring peak,
         because this machine's speed drifts). Also the bf16 matmul rate, where it runs.
scaling  Bare-loop seconds per epoch (one string) against string length and model size; prints a
         table and saves a figure (``--figure``).
compile  (opt-in) The bare loop with ``torch.compile``: compile time and step time.
profile  (opt-in; ``make profile``) Where one epoch of ``memlib.expose`` goes at the notebooks' short
         lengths (``--profile-lengths``, default 32 and 64 characters): the same step taken apart
         and timed piece by piece (the transformer body's forward, the output layer over the whole
         vocabulary, memlib's metrics, the backward through each, the fused AdamW step), against
         the per-epoch slope of real ``expose`` runs of two lengths in epochs (the rest is the
         loop's own Python and noise), and the fixed cost of a run (restoring the pretrained weights,
         set-up, the final no-grad measurement). CPU only; any model with a base model and an
         output embedding.
         Also: one held-out pass, gradient clipping (the paper's recipe only), and the AdamW step
         with ``foreach=True`` instead of the fused kernel memlib uses.
precision (opt-in; ``make bench-precision``) Seconds per epoch of ``memlib.expose`` in fp32 and under
         bf16 autocast (``precision="bf16"``), alternating, for the model and tiny-llama at
         ``--precision-lengths`` (default 64, 128, 512, 1024 characters): the per-epoch slope between
         runs of 1 and ``1 + --precision-epochs`` epochs, median of ``--precision-reps``. Names the CPU,
         the bf16 flags it reports and the measured bf16 matmul speed-up. Where bf16 is emulated, a
         length whose bf16 epoch would take longer than ``--precision-max-seconds`` (estimated from the
         bf16 matmul rate) is not run, and the table says so.
bf16_memorisation (opt-in; also in ``make bench-precision``) What bf16 autocast does to memorisation:
         tiny-llama (and ``--bf16-models``) on one 32-character string over 7 letters, seeds 0 to
         ``--bf16-seeds - 1``, ``--bf16-epochs`` epochs, fp32 against bf16: epochs to 90% and 99%
         train accuracy per seed, and the paired difference. A third run repeats fp32 with the learning
         rate times 1 + 1e-6 (a last-bits change, as another CPU's kernels make), for scale.
cores    (opt-in; ``make bench-cores``) Processes and threads: ``--cores-runs`` runs of
         ``memlib.expose`` (the model and tiny-llama, 32 characters, ``--cores-epochs`` epochs) done
         by P processes of T threads each (every P x T <= the cores), alone, beside a process that
         keeps one core busy (a pure-Python loop) and beside a process training with torch on every
         core; and T threads with ``OMP_WAIT_POLICY=PASSIVE``. Each process loads its model first,
         then all start together; the time is from the first start to the last end.
families (opt-in; ``make bench-families``) What each pretrained family costs: for ``--family-models`` (default
         SmolLM2-135M and Gemma-3-270M) at ``--family-lengths`` (default 32, 128, 512 characters), seconds per
         epoch of ``memlib.expose`` (one training string, fp32; the slope between runs of
         ``--family-epochs`` E1 and E2 epochs, both models alternating in one process, median of ``--reps``),
         where one step goes (the transformer body against the output layer over the vocabulary, forward and
         backward, the AdamW step: :func:`_profile_step`), and each model's peak resident memory while it trains
         512 characters (a process of its own: ``ru_maxrss``).

Prints markdown; ``--out`` writes it to a file as well.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time

import torch
import torch.nn.functional as F

import memlib

SECTIONS = ("ratios", "long", "mfu", "scaling", "compile", "profile", "precision", "bf16_memorisation", "cores",
            "families")


def _step(net, opt, ids):
    """One bare training step; ``net`` is the model or any callable like it (a compiled forward)."""
    logits = net(input_ids=ids[:, :-1], use_cache=False).logits
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), ids[:, 1:].reshape(-1))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def _time_steps(net, opt, ids, n):
    """Seconds of a first (warm-up) step and the median of ``n`` more."""
    t0 = time.perf_counter()
    _step(net, opt, ids)
    first = time.perf_counter() - t0
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        _step(net, opt, ids)
        ts.append(time.perf_counter() - t0)
    return first, statistics.median(ts)


def bare_loop(model, ids, epochs, lr, test_ids=None):
    net = model.model
    opt = torch.optim.AdamW(net.parameters(), lr=lr, fused=True)
    for _ in range(epochs):
        _step(net, opt, ids)
    if test_ids is not None:
        with torch.no_grad():
            net(input_ids=test_ids[:, :-1], use_cache=False)
    model.restore()


def trainer_recipe(model, train_ids, test_ids, epochs, lr):
    from transformers import PrinterCallback, Trainer, TrainerCallback, TrainingArguments

    net = model.model

    class Monitor(TrainerCallback):
        def _measure(self):
            net.eval()
            with torch.no_grad():
                for ids in [*train_ids, *test_ids]:
                    x = ids.unsqueeze(0)
                    net(input_ids=x, labels=x).loss.item()  # one forward for the loss
                    (net(input_ids=x).logits[0, :-1].argmax(-1) == x[0, 1:]).float().mean().item()  # one for correctness
            net.train()

        def on_train_begin(self, args, state, control, **kw):
            self._measure()

        def on_epoch_end(self, args, state, control, **kw):
            self._measure()

    data = [{"input_ids": i, "labels": i} for i in train_ids]
    evals = [{"input_ids": i, "labels": i} for i in test_ids]
    with tempfile.TemporaryDirectory() as tmp:
        args = TrainingArguments(output_dir=tmp, num_train_epochs=epochs, learning_rate=lr, per_device_train_batch_size=8,
                                 per_device_eval_batch_size=8, eval_strategy="epoch", save_strategy="no", report_to=[],
                                 logging_strategy="no", use_cpu=not torch.cuda.is_available(), lr_scheduler_type="constant",
                                 disable_tqdm=True)
        trainer = Trainer(model=net, args=args, train_dataset=data, eval_dataset=evals, callbacks=[Monitor()])
        trainer.remove_callback(PrinterCallback)  # its log lines are noise here; costs nothing measurable
        trainer.train()
    model.restore()
    net.eval()


def matmul_rate(dtype, n=2048, seconds=1.0):
    """FLOP/s of repeated n x n matmuls for about ``seconds``."""
    a = torch.randn(n, n, dtype=dtype)
    b = torch.randn(n, n, dtype=dtype)
    torch.mm(a, b)
    reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        torch.mm(a, b)
        reps += 1
    return 2 * n ** 3 * reps / (time.perf_counter() - t0)


def _alternate(methods: dict, reps: int, warmup: bool = True) -> dict:
    """Median seconds of each method, run alternately ``reps`` times (after one warm-up round)."""
    if warmup:
        for fn in methods.values():
            fn()
    times = {k: [] for k in methods}
    for _ in range(reps):
        for name, fn in methods.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def _strings(model, length, n_test, seed=0):
    train, test = memlib.sweep.split_strings(seed, alphabet_size=7, length=length, n_train=1, n_test=n_test)
    ids = torch.tensor([model.encode(s.text) for s in train], device=model.device)
    test_ids = torch.tensor([model.encode(s.text) for s in test], device=model.device)
    return train, test, ids, test_ids


def _expose(model, train, test, epochs, **kw):
    return lambda: memlib.expose(model, train, test_strings=test, epochs=epochs, store=False, progress=False, **kw)


def section_ratios(model, args) -> list[str]:
    lr = model.default_lr
    train, test, ids, test_ids = _strings(model, args.length, args.n_test)
    E = args.epochs
    methods = {
        "(a) bare loop": lambda: bare_loop(model, ids, E, lr),
        "(a') bare loop + one held-out pass": lambda: bare_loop(model, ids, E, lr, test_ids),
        "(b) memlib.expose, default schedule": _expose(model, train, test, E),
        "(b') memlib.expose, training string only": _expose(model, train, (), E),
        "(c) memlib.expose, every epoch": _expose(model, train, test, E, eval_every=1),
        "(d) Trainer + callback (paper recipe)": lambda: trainer_recipe(model, list(ids), list(test_ids), E, lr),
    }
    med = _alternate(methods, args.reps)
    a, b, c, d = (med[k] for k in ("(a) bare loop", "(b) memlib.expose, default schedule",
                                   "(c) memlib.expose, every epoch", "(d) Trainer + callback (paper recipe)"))
    auto = memlib.eval_epochs(E, train_tokens=ids.numel(), test_tokens=test_ids.numel())
    return [
        f"### Ratios: 1 training string of {args.length} characters, {args.n_test} held-out strings, {E} epochs, "
        f"{args.reps} repetitions (median)",
        "",
        "| method | seconds | / (a) |",
        "| --- | ---: | ---: |",
        *[f"| {k} | {v:.2f} | {v / a:.2f} |" for k, v in med.items()],
        "",
        f"- (b)/(a) = {b / a:.2f} (target <= 1.15); (d)/(c) = {d / c:.2f} (target >= 2.5)",
        f"- default schedule here: held-out strings at epochs {auto}",
    ]


def section_long(model, args) -> list[str]:
    lr = model.default_lr
    train, test, ids, test_ids = _strings(model, args.length, args.n_test)
    E = args.long_epochs
    methods = {"(a) bare loop": lambda: bare_loop(model, ids, E, lr),
               "(b) memlib.expose, default schedule": _expose(model, train, test, E)}
    med = _alternate(methods, args.long_reps, warmup=False)
    a, b = med.values()
    run = memlib.expose(model, train, test_strings=test, epochs=E, store=False, progress=False)
    acc = run.metrics[run.metrics.split == "train"].groupby("epoch").accuracy.mean()
    auto = [int(e) for e in run.arrays["test_epochs"]]
    return [
        f"### A run long enough to memorise: {args.length} characters, {args.n_test} held-out strings, {E} epochs, "
        f"{args.long_reps} repetitions (median)",
        "",
        "| method | seconds | / (a) |",
        "| --- | ---: | ---: |",
        *[f"| {k} | {v:.2f} | {v / a:.2f} |" for k, v in med.items()],
        "",
        f"- (b)/(a) = {b / a:.2f} (target <= 1.15); held-out strings evaluated at epochs {auto}; "
        f"training accuracy after {E} epochs {acc.iloc[-1]:.3f}",
    ]


def section_mfu(model, args) -> list[str]:
    lr = model.default_lr
    _, _, ids, _ = _strings(model, args.mfu_length, 0)
    net = model.model
    opt = torch.optim.AdamW(net.parameters(), lr=lr, fused=True)
    flops = 6 * model.n_params * (ids.shape[1] - 1)
    _step(net, opt, ids)  # warm-up
    steps, peaks, mfus = [], [], []
    for _ in range(args.mfu_steps):
        t0 = time.perf_counter()
        _step(net, opt, ids)
        steps.append(time.perf_counter() - t0)
        peaks.append(matmul_rate(torch.float32))
        mfus.append(flops / steps[-1] / peaks[-1])
    model.restore()
    try:
        bf16 = matmul_rate(torch.bfloat16, n=512, seconds=0.5)
    except RuntimeError:
        bf16 = float("nan")
    step = statistics.median(steps)
    return [
        f"### Throughput: bare-loop step, {args.mfu_length} characters, median of {args.mfu_steps} steps",
        "",
        f"- step {step:.3f} s = {flops / step / 1e9:.1f} GFLOP/s of model FLOPs (6 x {model.n_params / 1e6:.1f}M "
        f"parameters x {ids.shape[1] - 1} tokens)",
        f"- fp32 matmul peak (2048x2048) {statistics.median(peaks) / 1e9:.0f} GFLOP/s "
        f"(range {min(peaks) / 1e9:.0f}-{max(peaks) / 1e9:.0f}); bf16 matmul (512x512) {bf16 / 1e9:.2f} GFLOP/s",
        f"- MFU {statistics.median(mfus):.1%} of the fp32 peak (median of per-step ratios; range "
        f"{min(mfus):.1%}-{max(mfus):.1%}) (target 60%)",
    ]


def _mid_llama(width: int, layers: int, vocab: int):
    """A random Llama with SmolLM2's vocabulary, for sizes between the tiny models and 135M."""
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(vocab_size=vocab, hidden_size=width, num_hidden_layers=layers, num_attention_heads=width // 64,
                      num_key_value_heads=max(1, width // 192), intermediate_size=width * 8 // 3,
                      tie_word_embeddings=True, max_position_embeddings=2048)
    torch.manual_seed(0)
    return LlamaForCausalLM(cfg)


def section_scaling(model, args) -> list[str]:
    lengths = [int(x) for x in args.lengths.split(",")]
    nets = {"tiny-llama": memlib.load_model("tiny-llama").model}
    vocab = model.model.config.vocab_size
    for width, layers in ((256, 8), (384, 16)):
        nets[f"llama {width}x{layers}"] = _mid_llama(width, layers, vocab)
    nets[model.name] = model.model
    rows = []
    for name, net in nets.items():
        n_params = sum(p.numel() for p in net.parameters())
        state = {k: v.clone() for k, v in net.state_dict().items()}
        opt = torch.optim.AdamW(net.parameters(), lr=1e-4, fused=True)
        vocab_n = net.config.vocab_size
        for L in lengths:
            ids = torch.randint(3, min(vocab_n, 90), (1, L + 1))
            _, s = _time_steps(net, opt, ids, args.scaling_steps)  # after a warm-up step at this size
            rows.append((name, n_params, L, s, 6 * n_params * L / s / 1e9))
        net.load_state_dict(state)
    lines = [
        f"### Scaling: seconds per epoch (one string, bare-loop step, median of {args.scaling_steps})",
        "",
        "| model | parameters | " + " | ".join(f"{L} chars" for L in lengths) + " |",
        "| --- | ---: | " + " | ".join("---:" for _ in lengths) + " |",
    ]
    for name in nets:
        r = [x for x in rows if x[0] == name]
        lines.append(f"| {name} | {r[0][1] / 1e6:.1f}M | " + " | ".join(f"{x[3]:.3f}" for x in r) + " |")
    lines += ["", "Model GFLOP/s (6 x parameters x tokens / step time):", "",
              "| model | " + " | ".join(f"{L}" for L in lengths) + " |",
              "| --- | " + " | ".join("---:" for _ in lengths) + " |"]
    for name in nets:
        lines.append(f"| {name} | " + " | ".join(f"{x[4]:.1f}" for x in rows if x[0] == name) + " |")
    if args.figure:
        _scaling_figure(rows, nets, args.figure)
        lines += ["", f"Figure: `{args.figure}`"]
    return lines


def _scaling_figure(rows, nets, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from memlib import figures

    figures.style()
    fig, ax = plt.subplots(figsize=(6.4, 4))
    for name in nets:
        r = [x for x in rows if x[0] == name]
        ax.plot([x[2] for x in r], [x[3] for x in r], marker="o", label=f"{name} ({r[0][1] / 1e6:.1f}M)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("string length (characters)")
    ax.set_ylabel("seconds per epoch (one string)")
    ax.set_title(f"Training cost on {torch.get_num_threads()} CPU threads")
    ax.legend(fontsize=8)
    fig.tight_layout()
    folder, name = os.path.split(path)
    figures.save_figure(fig, os.path.splitext(name)[0], folder or ".")


def section_compile(model, args) -> list[str]:
    lr = model.default_lr
    _, _, ids, _ = _strings(model, args.mfu_length, 0)
    net = model.model
    flops = 6 * model.n_params * (ids.shape[1] - 1)
    out = []
    for label, fwd in (("eager", net.forward), ("torch.compile", torch.compile(net.forward))):
        opt = torch.optim.AdamW(net.parameters(), lr=lr, fused=True)
        first, s = _time_steps(fwd, opt, ids, args.mfu_steps)
        out.append(f"| {label} | {first:.1f} | {s:.3f} | {flops / s / 1e9:.1f} |")
        model.restore()
    return [f"### torch.compile, {args.mfu_length} characters", "",
            "| mode | first step (s) | step (s) | GFLOP/s |", "| --- | ---: | ---: | ---: |", *out]


def _profile_step(model, ids, alpha, opt, clip: bool) -> dict:
    """One training step of ``memlib.expose`` taken apart: seconds of each piece."""
    from memlib.loop import _record
    from memlib.metrics import token_metrics

    net, t = model.model, {}
    body, head = net.base_model, net.get_output_embeddings()

    def tick(name, t0):
        t[name] = time.perf_counter() - t0
        return time.perf_counter()

    t0 = time.perf_counter()
    h = body(input_ids=ids[:, :-1], use_cache=False).last_hidden_state
    t0 = tick("forward: transformer body", t0)
    h_in = h.detach().requires_grad_()
    logits = head(h_in)
    t0 = tick("forward: output layer (vocabulary)", t0)
    tm = token_metrics(logits, ids[:, 1:], alpha)
    loss = tm["nll"].mean()
    _record([tm])
    t0 = tick("loss and metrics", t0)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    t0 = tick("backward: output layer and metrics", t0)
    h.backward(h_in.grad)
    t0 = tick("backward: transformer body", t0)
    if clip:
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        t0 = tick("gradient clipping (paper recipe only)", t0)
    opt.step()
    tick("AdamW step (fused)", t0)
    return t


def section_profile(model, args) -> list[str]:
    from memlib.loop import _evaluate

    if model.device.type != "cpu":  # no CUDA synchronisation nor bf16 autocast in the split step
        raise SystemExit(f"the profile section runs on the CPU only (the model is on {model.device})")
    lengths = [int(x) for x in args.profile_lengths.split(",")]
    E1, E2 = args.profile_epochs
    out = [f"### Profile: where one epoch of memlib.expose goes ({args.model}, one training string; medians of "
           f"{args.profile_steps} steps after a warm-up; per-epoch slope from expose runs of {E1} and {E2} epochs, "
           f"median of {args.reps} alternations)", ""]
    rows = {}
    for L in lengths:
        train, test, ids, test_ids = _strings(model, L, args.profile_n_test)
        alpha = torch.tensor(model.letter_ids(train[0].alphabet), device=model.device)
        net = model.model
        net.eval()
        adamw = dict(lr=model.default_lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)  # as memlib.expose
        opt = torch.optim.AdamW(net.parameters(), fused=True, **adamw)
        parts = [_profile_step(model, ids, alpha, opt, clip=True) for _ in range(args.profile_steps + 1)][1:]
        col = {k: statistics.median(p[k] for p in parts) for k in parts[0]}
        foreach = torch.optim.AdamW(net.parameters(), foreach=True, **adamw)  # what fused replaced
        other = [_profile_step(model, ids, alpha, foreach, clip=False) for _ in range(args.profile_steps + 1)][1:]
        col_foreach = statistics.median(p["AdamW step (fused)"] for p in other)
        del opt, foreach  # their state (2 x 2 parameters' worth) and the gradients go before what follows
        net.zero_grad(set_to_none=True)
        model.restore()
        with torch.no_grad():
            _evaluate(model, test_ids, alpha, None, len(test_ids))
            held = []
            for _ in range(args.profile_steps):
                t0 = time.perf_counter()
                _evaluate(model, test_ids, alpha, None, len(test_ids))
                held.append(time.perf_counter() - t0)
        med = _alternate({E: _expose(model, train, (), E) for E in (E1, E2)}, args.reps)
        slope = (med[E2] - med[E1]) / (E2 - E1)
        step = sum(v for k, v in col.items() if not k.startswith("gradient clipping"))
        col["rest: the loop's Python and noise (slope minus the pieces)"] = slope - step
        col["= one epoch of memlib.expose (slope)"] = slope
        col[f"one held-out pass ({args.profile_n_test} strings, no grad)"] = statistics.median(held)
        col["AdamW step with foreach instead of fused (not used)"] = col_foreach
        col["fixed cost of a run (restore, set-up, final measurement)"] = med[E1] - E1 * slope
        rows[L] = col
    names = list(rows[lengths[0]])
    out += ["| piece | " + " | ".join(f"{L} chars: ms | share" for L in lengths) + " |",
            "| --- | " + " | ".join("---: | ---:" for _ in lengths) + " |"]
    for n in names:
        cells = []
        for L in lengths:
            v, epoch = rows[L][n], rows[L]["= one epoch of memlib.expose (slope)"]
            share = "" if n.startswith(("one held-out", "fixed cost", "gradient clipping", "AdamW step with")) else f"{v / epoch:.0%}"
            cells.append(f"{v * 1e3:.0f} | {share}")
        out.append(f"| {n} | " + " | ".join(cells) + " |")
    return out


def _slope(run, e1: int, e2: int, reps: int) -> float:
    """Seconds per epoch: the median over ``reps`` of (time of ``run(e2)`` - time of ``run(e1)``) / (e2 - e1)."""
    out = []
    for _ in range(reps):
        t = []
        for e in (e1, e2):
            t0 = time.perf_counter()
            run(e)
            t.append(time.perf_counter() - t0)
        out.append((t[1] - t[0]) / (e2 - e1))
    return statistics.median(out)


def section_precision(model, args) -> list[str]:
    from memlib import hardware

    cpu = hardware.cpu_info()
    bf16_rate = matmul_rate(torch.bfloat16, n=512, seconds=0.5)
    fp32_rate = matmul_rate(torch.float32, n=512, seconds=0.5)
    lengths = [int(x) for x in args.precision_lengths.split(",")]
    E = args.precision_epochs
    rows = []
    for name in dict.fromkeys([model.name, "tiny-llama"]):
        m = model if name == model.name else memlib.load_model(name, device=str(model.device))
        for L in lengths:
            train, _ = memlib.sweep.split_strings(0, alphabet_size=7, length=L, n_train=1, n_test=0)

            def run(epochs, precision):
                memlib.expose(m, train, epochs=epochs, precision=precision, store=False, progress=False)

            est = 6 * m.n_params * L / bf16_rate  # seconds per bf16 epoch if all were matmul at the 512 rate
            run(1, "fp32")  # warm-up (first use at this length)
            fp32 = _slope(lambda e: run(e, "fp32"), 1, 1 + E, args.precision_reps)
            if not cpu.native_bf16 and est > args.precision_max_seconds:
                rows.append((name, m.n_params, L, fp32, None, f"not run: about {est:.0f} s an epoch (emulated bf16)"))
                continue
            run(1, "bf16")  # warm-up (first use of the bf16 kernels)
            bf16 = _slope(lambda e: run(e, "bf16"), 1, 1 + E, args.precision_reps)
            rows.append((name, m.n_params, L, fp32, bf16, ""))
    flags = ", ".join(cpu.bf16_flags) or "none"
    out = [f"### fp32 against bf16 autocast: seconds per epoch of memlib.expose (slope over {E} epochs, median of "
           f"{args.precision_reps})", "",
           f"- CPU: {cpu.model} ({cpu.machine}), {torch.get_num_threads()} threads; native-bf16 flags reported: {flags} "
           f"(from {cpu.source})",
           f"- 512x512 matmul: fp32 {fp32_rate / 1e9:.1f} GFLOP/s, bf16 {bf16_rate / 1e9:.2f} GFLOP/s "
           f"({bf16_rate / fp32_rate:.3g}x)", "",
           "| model | length | fp32 s/epoch | bf16 s/epoch | fp32 / bf16 |", "| --- | ---: | ---: | ---: | ---: |"]
    for name, n, L, fp32, bf16, note in rows:
        out.append(f"| {name} ({n / 1e6:.1f}M) | {L} | {fp32:.3f} | " +
                   (f"{bf16:.3f} | {fp32 / bf16:.2f} |" if bf16 is not None else f"{note} | |"))
    return out


def section_bf16_memorisation(model, args) -> list[str]:
    from memlib.milestones import epochs_to

    names = ["tiny-llama"] + [n.strip() for n in args.bf16_models.split(",") if n.strip()]
    E, seeds = args.bf16_epochs, range(args.bf16_seeds)
    out = [f"### bf16 autocast and memorisation: epochs to 90% / 99% train accuracy within {E} epochs, one "
           f"32-character string over 7 letters per seed ({torch.get_num_threads()} threads). 'fp32 nudged' repeats "
           f"fp32 with the learning rate times 1 + 1e-6: a last-bits change, as another CPU's kernels make", "",
           "| model | seed | fp32: 90% | bf16: 90% | fp32 nudged: 90% | fp32: 99% | bf16: 99% | fp32 nudged: 99% | "
           "bf16 final accuracy |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    diffs = {}
    for name in names:
        m = model if name == model.name else memlib.load_model(name, device=str(model.device))
        for seed in seeds:
            train, test = memlib.sweep.split_strings(seed, alphabet_size=7, length=32, n_train=1, n_test=1)
            got = {}
            for label, precision, scale in (("fp32", "fp32", 1.0), ("bf16", "bf16", 1.0), ("nudged", "fp32", 1 + 1e-6)):
                run = memlib.expose(m, train, test_strings=test, epochs=E, lr=m.default_lr * scale, precision=precision,
                                    store=False, progress=False)
                acc = run.metrics[run.metrics.split == "train"].groupby("epoch").accuracy.mean()
                got[label] = [epochs_to(acc.index, acc.to_numpy(), q) for q in (0.9, 0.99)] + [acc.iloc[-1]]
            fmt = lambda v: "-" if v is None or v != v else f"{v:.0f}"
            out.append(f"| {name} | {seed} | " + " | ".join(fmt(got[k][i]) for i in (0, 1) for k in ("fp32", "bf16", "nudged"))
                       + f" | {got['bf16'][2]:.3f} |")
            for k in ("bf16", "nudged"):
                for i, q in enumerate((90, 99)):
                    a, b = got[k][i], got["fp32"][i]
                    diffs.setdefault((name, k, q), []).append(None if a is None or b is None else a - b)
            print(out[-1], flush=True)
    out.append("")
    for (name, k, q), d in diffs.items():
        both = [x for x in d if x is not None]
        summary = (f"median {statistics.median(both):+.1f}, largest |difference| {max(abs(x) for x in both):.0f}"
                   if both else "no seed where both reached it")
        out.append(f"- {name}, {k} minus fp32, epochs to {q}%: {', '.join('-' if x is None else f'{x:+.0f}' for x in d)} "
                   f"({summary}; '-': one of the two did not reach it within {E} epochs)")
    return out


_BUSY = {
    "none": None,
    "one busy core": "while True: pass",
    "torch on every core": "import torch\na = torch.randn(1024, 1024)\nwhile True: a @ a",
}


def _worker(spec: dict) -> None:
    """One process of the cores section: load, wait for the go file, run, print the times as JSON."""
    import json

    m = memlib.load_model(spec["model"], device="cpu")
    runs = []
    for i in spec["items"]:
        runs.append(memlib.sweep.split_strings(i, alphabet_size=7, length=spec["length"], n_train=1, n_test=1))
    ready, go = spec["ready"], spec["go"]
    open(ready, "w").close()
    while not os.path.exists(go):
        time.sleep(0.01)
    t0 = time.time()
    for train, test in runs:
        memlib.expose(m, train, test_strings=test, epochs=spec["epochs"], store=False, progress=False)
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20  # KiB on Linux -> GiB
    print(json.dumps({"start": t0, "end": time.time(), "threads": torch.get_num_threads(), "rss_gib": rss}))


_PEAK_RSS: dict[str, float] = {}


def _cores_batch(name, procs, threads, busy, args, passive=False) -> float:
    """Seconds for ``args.cores_runs`` runs split over ``procs`` processes of ``threads`` threads, beside ``busy``."""
    import json
    import subprocess

    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), MEMLIB_PROGRESS="0")
    if passive:
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    with tempfile.TemporaryDirectory() as tmp:
        hog = None if _BUSY[busy] is None else subprocess.Popen([sys.executable, "-c", _BUSY[busy]])
        try:
            go, workers = os.path.join(tmp, "go"), []
            for p in range(procs):
                spec = {"model": name, "length": 32, "epochs": args.cores_epochs,
                        "items": list(range(p, args.cores_runs, procs)), "ready": os.path.join(tmp, f"ready{p}"),
                        "go": go}
                workers.append(subprocess.Popen([sys.executable, __file__, "--worker", json.dumps(spec)], env=env,
                                                stdout=subprocess.PIPE, text=True))
            while not all(os.path.exists(os.path.join(tmp, f"ready{p}")) for p in range(procs)):
                time.sleep(0.05)
            open(go, "w").close()
            times = [json.loads(w.communicate()[0].strip().splitlines()[-1]) for w in workers]
        finally:
            if hog is not None:
                hog.kill()
                hog.wait()
    assert all(t["threads"] == threads for t in times), times
    _PEAK_RSS[name] = max(_PEAK_RSS.get(name, 0.0), *(t["rss_gib"] for t in times))
    return max(t["end"] for t in times) - min(t["start"] for t in times)


def section_cores(model, args) -> list[str]:
    from memlib import hardware

    cores = hardware.usable_cores()
    configs = sorted({(cores // t, t) for t in (1, 2, 4, 8, 16) if t <= cores} | {(1, 1)}, key=lambda c: (-c[0], c[1]))
    configs.append((1, cores, "passive"))
    out = [f"### Processes x threads: {args.cores_runs} runs of memlib.expose (32 characters, {args.cores_epochs} epochs, "
           f"one held-out string), seconds from the first start to the last end", "",
           f"- {hardware.cpu_info().model}, {cores} usable cores, {hardware.memory_gib():.0f} GiB", "",
           "| model | processes x threads | " + " | ".join(_BUSY) + " |", "| --- | --- | " + " | ".join("---:" for _ in _BUSY) + " |"]
    for name in dict.fromkeys([model.name, "tiny-llama"]):
        for c in configs:
            procs, threads, passive = c[0], c[1], len(c) > 2
            cells = [_cores_batch(name, procs, threads, busy, args, passive) for busy in _BUSY]
            label = f"{procs} x {threads}" + (" (OMP_WAIT_POLICY=PASSIVE)" if passive else "")
            out.append(f"| {name} | {label} | " + " | ".join(f"{s:.1f}" for s in cells) + " |")
            print(out[-1], flush=True)
    out += ["", "Peak resident memory of one process: " + ", ".join(f"{k} {v:.2f} GiB" for k, v in _PEAK_RSS.items())]
    return out


def _peak_memory(name: str, length: int, epochs: int) -> float:
    """GiB of peak resident memory of a fresh process that loads ``name`` and trains one string of ``length``."""
    import json
    import subprocess

    # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across fork and exec, so a child of a large parent reports the
    # parent's size
    code = ("import memlib; m = memlib.load_model(%r); "
            "s = memlib.random_strings(1, 7, %d, seed=0); "
            "memlib.expose(m, s, epochs=%d, store=False, progress=False); "
            "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0])") % (name, length, epochs)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1]) / 2**20  # kB


def section_families(model, args) -> list[str]:
    names = [n.strip() for n in args.family_models.split(",") if n.strip()]
    lengths = [int(x) for x in args.family_lengths.split(",")]
    E1, E2 = args.family_epochs
    models = {n: model if n == args.model else memlib.load_model(n) for n in names}
    out = [f"### Families: seconds per epoch of memlib.expose, one string over 7 letters, fp32 (slope between {E1} "
           f"and {E2} epochs, models alternating, median of {args.reps}); where one step goes (median of "
           f"{args.profile_steps} steps after a warm-up); peak memory", ""]
    for L in lengths:
        runs = {}
        for n, m in models.items():
            train, _, _, _ = _strings(m, L, 0)
            runs.update({(n, E): _expose(m, train, (), E) for E in (E1, E2)})
        med = _alternate(runs, args.reps)
        slope = {n: (med[(n, E2)] - med[(n, E1)]) / (E2 - E1) for n in names}
        parts = {}
        for n, m in models.items():
            _, _, ids, _ = _strings(m, L, 0)
            alpha = torch.tensor(m.letter_ids("abcdefg"), device=m.device)
            m.model.eval()
            opt = torch.optim.AdamW(m.model.parameters(), lr=m.default_lr, fused=True)
            steps = [_profile_step(m, ids, alpha, opt, clip=False) for _ in range(args.profile_steps + 1)][1:]
            parts[n] = {k: statistics.median(p[k] for p in steps) for k in steps[0]}
            del opt
            m.model.zero_grad(set_to_none=True)
            m.restore()
        out += [f"**{L} characters**", "", "| | " + " | ".join(names) + " |", "| --- |" + " ---: |" * len(names),
                "| seconds per epoch (expose) | " + " | ".join(f"{slope[n]:.3f}" for n in names) + " |",
                f"| ratio to {names[0]} | " + " | ".join(f"{slope[n] / slope[names[0]]:.2f}" for n in names) + " |"]
        for k in parts[names[0]]:
            out.append(f"| {k}: ms (share of the step) | " + " | ".join(
                f"{parts[n][k] * 1e3:.0f} ({parts[n][k] / sum(parts[n].values()):.0%})" for n in names) + " |")
        out.append("")
    memory = {n: _peak_memory(n, max(lengths), 2) for n in names}
    out += ["| peak resident memory training %d characters (GiB) | " % max(lengths)
            + " | ".join(f"{n} {memory[n]:.2f}" for n in names) + " |",
            "", "parameters: " + ", ".join(f"{n} {m.n_params / 1e6:.1f}M (embedding "
                                        f"{m.model.get_input_embeddings().weight.numel() / 1e6:.1f}M)"
                                        for n, m in models.items())]
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--sections", default="ratios,long,mfu,scaling", help=f"comma-separated, from {', '.join(SECTIONS)}")
    p.add_argument("--length", type=int, default=128)
    p.add_argument("--n-test", type=int, default=10)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--long-epochs", type=int, default=40)
    p.add_argument("--long-reps", type=int, default=2)
    p.add_argument("--mfu-length", type=int, default=256)
    p.add_argument("--mfu-steps", type=int, default=7)
    p.add_argument("--lengths", default="64,128,256,512,1024")
    p.add_argument("--scaling-steps", type=int, default=3)
    p.add_argument("--figure", default="benchmarks/scaling_cpu.png")
    p.add_argument("--profile-lengths", default="32,64")
    p.add_argument("--profile-steps", type=int, default=7)
    p.add_argument("--profile-n-test", type=int, default=3, help="held-out strings in the profile (notebooks: 2-4)")
    p.add_argument("--profile-epochs", type=int, nargs=2, default=[5, 15], metavar=("E1", "E2"))
    p.add_argument("--precision-lengths", default="64,128,512,1024")
    p.add_argument("--precision-epochs", type=int, default=4)
    p.add_argument("--precision-reps", type=int, default=2)
    p.add_argument("--precision-max-seconds", type=float, default=60.0)
    p.add_argument("--bf16-models", default="", help="models besides tiny-llama (comma-separated)")
    p.add_argument("--bf16-seeds", type=int, default=8)
    p.add_argument("--bf16-epochs", type=int, default=80)
    p.add_argument("--cores-runs", type=int, default=4)
    p.add_argument("--cores-epochs", type=int, default=10)
    p.add_argument("--family-models", default="smollm2-135m,gemma3-270m")
    p.add_argument("--family-lengths", default="32,128,512")
    p.add_argument("--family-epochs", type=int, nargs=2, default=[1, 3], metavar=("E1", "E2"))
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    if args.worker:
        import json

        _worker(json.loads(args.worker))
        return 0
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    bad = [s for s in sections if s not in SECTIONS]
    if bad:
        p.error(f"--sections {','.join(bad)} is not allowed: use {', '.join(SECTIONS)}")
    model = memlib.load_model(args.model)
    cpu = platform.processor() or platform.machine()
    if model.device.type == "cuda":
        cpu = torch.cuda.get_device_name(model.device)
    lines = [f"## {time.strftime('%Y-%m-%d')}: `python benchmarks/bench.py --sections {','.join(sections)}`", "",
             f"model {args.model} ({model.n_params / 1e6:.1f}M parameters), device {model.device} ({cpu}), "
             f"{torch.get_num_threads()} threads, fp32 weights, torch {torch.__version__}, "
             f"transformers {__import__('transformers').__version__}, memlib {memlib.__version__}", ""]
    print("\n".join(lines), flush=True)
    for s in sections:
        t0 = time.perf_counter()
        part = globals()[f"section_{s}"](model, args) + ["", f"({s}: {time.perf_counter() - t0:.0f} s)", ""]
        print("\n".join(part), flush=True)
        lines += part
    text = "\n".join(lines)
    if args.out:
        os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
        with open(args.out, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
