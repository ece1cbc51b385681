"""Benchmark: memlib's exposure loop against a bare training loop and the paper's Trainer recipe.

Run with ``make bench`` (or ``python benchmarks/bench.py --help``). In one process, alternating
between methods over several repetitions, on the same model, string(s), epochs and metrics:

  (a) bare loop: forward, cross-entropy, backward, AdamW step; nothing else (the floor)
  (b) memlib.expose, all metrics, train and held-out strings, default evaluation schedule
  (c) memlib.expose evaluating every held-out string at every epoch
  (d) a re-implementation of the paper's released recipe: HF Trainer plus a callback that, before
      training and after every epoch, runs one forward for the loss and another for the
      correctness on the training string and on each held-out string, plus the Trainer's own
      evaluation on the held-out strings

It also measures the machine's dense matmul peak (fp32, and bf16 where it runs) and reports the
bare loop's model FLOP utilisation (6 x parameters x tokens per step / step time / fp32 peak).
Prints a markdown table; ``--out`` writes it to a file as well.
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


def bare_loop(model, ids, epochs, lr):
    net = model.model
    opt = torch.optim.AdamW(net.parameters(), lr=lr, fused=True)
    for _ in range(epochs):
        logits = net(input_ids=ids[:, :-1], use_cache=False).logits
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), ids[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    model.restore()


def trainer_recipe(model, train_ids, test_ids, epochs, lr):
    from transformers import Trainer, TrainerCallback, TrainingArguments

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
        Trainer(model=net, args=args, train_dataset=data, eval_dataset=evals, callbacks=[Monitor()]).train()
    model.restore()
    net.eval()


def matmul_peak(dtype, n=2048, seconds=2.0):
    a = torch.randn(n, n, dtype=dtype)
    b = torch.randn(n, n, dtype=dtype)
    torch.mm(a, b)
    reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        torch.mm(a, b)
        reps += 1
    return 2 * n ** 3 * reps / (time.perf_counter() - t0)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--length", type=int, default=128)
    p.add_argument("--n-test", type=int, default=10)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    model = memlib.load_model(args.model)
    lr = model.default_lr
    train, test = memlib.sweep.split_strings(0, alphabet_size=7, length=args.length, n_train=1, n_test=args.n_test)
    ids = torch.tensor([model.encode(s.text) for s in train], device=model.device)
    test_ids = torch.tensor([model.encode(s.text) for s in test], device=model.device)
    methods = {
        "(a) bare loop": lambda: bare_loop(model, ids, args.epochs, lr),
        "(b) memlib.expose, default schedule": lambda: memlib.expose(model, train, test_strings=test, epochs=args.epochs,
                                                                     store=False, progress=False),
        "(c) memlib.expose, every epoch": lambda: memlib.expose(model, train, test_strings=test, epochs=args.epochs,
                                                                eval_every=1, store=False, progress=False),
        "(d) Trainer + callback (paper recipe)": lambda: trainer_recipe(model, list(ids), list(test_ids), args.epochs, lr),
    }
    times = {k: [] for k in methods}
    for name, fn in methods.items():  # warm-up
        fn()
    for _ in range(args.reps):
        for name, fn in methods.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    peak32 = matmul_peak(torch.float32)
    try:
        peak16 = matmul_peak(torch.bfloat16)
    except RuntimeError:
        peak16 = float("nan")
    tokens = args.length  # per step: one string, all characters predicted
    step = med["(a) bare loop"] / args.epochs
    mfu = 6 * model.n_params * tokens / step / peak32
    a, b, c, d = (med[k] for k in methods)
    lines = [
        f"model {args.model} ({model.n_params / 1e6:.1f}M), {args.length} characters, 1 training + {args.n_test} held-out "
        f"strings, {args.epochs} epochs, {args.reps} repetitions (median), device {model.device}, "
        f"{torch.get_num_threads()} threads, torch {torch.__version__}, {platform.processor() or platform.machine()}",
        "",
        "| method | seconds (median) | / bare loop |",
        "| --- | ---: | ---: |",
        *[f"| {k} | {v:.2f} | {v / a:.2f} |" for k, v in med.items()],
        "",
        f"(b)/(a) = {b / a:.2f} (target <= 1.15); (d)/(c) = {d / c:.2f} (target >= 2.5)",
        f"matmul peak: fp32 {peak32 / 1e9:.0f} GFLOP/s, bf16 {peak16 / 1e9:.1f} GFLOP/s; "
        f"bare-loop step {step:.3f} s = {6 * model.n_params * tokens / step / 1e9:.0f} GFLOP/s, MFU {mfu:.0%} of fp32 peak",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
        with open(args.out, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
