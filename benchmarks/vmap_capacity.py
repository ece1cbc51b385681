"""Is training many same-shaped tiny models at once faster than one after another? (groundwork for notebook 06)

Notebook 06's capacity models have a few thousand to a few hundred thousand parameters, where a training step is
mostly per-call overhead. This measures, on this machine, one AdamW step of K random-weight ``tiny-llama-w<W>-l1``
models (each its own initialisation, each its own batch of ``--batch`` strings of ``--length`` characters over 26
letters): one after another (K forward / backward / step calls) against all K at once (``torch.func``:
``stack_module_state``, ``vmap`` over ``grad`` of a ``functional_call``, one AdamW step on the stacked parameters;
AdamW is elementwise, so each model's update is its own). It prints the models' steps per second both ways, their
ratio, and the largest difference between the two ways' parameters after ``--check`` steps from the same start
(float reassociation only: the same arithmetic in another order).

The loss is transformers' causal-LM loss over the whole sequence, not memlib's loop: a measurement of the step,
not of a run. Threads: ``torch.set_num_threads(--threads)``.

    .venv/bin/python benchmarks/vmap_capacity.py --widths 8 16 32 64 --models 8
"""

from __future__ import annotations

import argparse
import copy
import time
import warnings

import torch
from torch.func import functional_call, grad, stack_module_state, vmap

import memlib


def batches(k: int, batch: int, length: int, seed: int) -> torch.Tensor:
    """``k`` batches of ``batch`` random letter strings (token ids of a tiny model: BOS 1, letters 3-28)."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, 29, (k, batch, length), generator=g)
    return torch.cat([torch.ones(k, batch, 1, dtype=torch.long), ids], dim=2)


def one_by_one(models, data, lr):
    opts = [torch.optim.AdamW(m.parameters(), lr=lr) for m in models]

    def step():
        for m, opt, x in zip(models, opts, data):
            opt.zero_grad(set_to_none=True)
            m(x, labels=x).loss.backward()
            opt.step()
    return step


def all_at_once(models, data, lr):
    params, buffers = stack_module_state(models)  # leaves of shape [K, ...]
    skeleton = copy.deepcopy(models[0]).to("meta")
    opt = torch.optim.AdamW(list(params.values()), lr=lr)

    def loss(p, b, x):
        return functional_call(skeleton, (p, b), (x,), kwargs={"labels": x}).loss

    grads = vmap(grad(loss))

    def step():
        g = grads(params, buffers, data)
        for name, p in params.items():
            p.grad = g[name]
        opt.step()
    return step, params


def rate(step, seconds: float) -> float:
    """Steps per second of ``step`` over at least ``seconds`` (after two warm-up steps)."""
    step()
    step()
    n, t0 = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - t0) < seconds or n < 3:
        step()
        n += 1
    return n / elapsed


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--widths", type=int, nargs="+", default=[8, 16, 32, 64])
    ap.add_argument("--models", type=int, default=8, help="K: models trained together")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--length", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seconds", type=float, default=10.0, help="time each way at least this long")
    ap.add_argument("--check", type=int, default=20, help="steps before comparing the two ways' parameters")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", category=UserWarning)  # sdpa under vmap falls back to the math kernel, and says so
    print(f"K = {args.models} models, batches of {args.batch} x {args.length} characters, AdamW lr {args.lr}, "
          f"{args.threads} thread(s), torch {torch.__version__}\n")
    print("| model | parameters | one by one: model steps/s | at once: model steps/s | at once / one by one "
          f"| largest parameter difference after {args.check} steps |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for w in args.widths:
        name = f"tiny-llama-w{w}-l1"

        def fresh():
            return [memlib.load_model(name, device="cpu", init_seed=s).model.train() for s in range(args.models)]
        data = batches(args.models, args.batch, args.length, seed=w)
        a, b = fresh(), fresh()
        step_a = one_by_one(a, data, args.lr)
        step_b, stacked = all_at_once(b, data, args.lr)
        for _ in range(args.check):
            step_a()
            step_b()
        with torch.no_grad():
            diff = max(float((stacked[n][i] - p).abs().max()) for i, m in enumerate(a) for n, p in m.named_parameters())
        slow = rate(one_by_one(fresh(), data, args.lr), args.seconds) * args.models
        fast = rate(all_at_once(fresh(), data, args.lr)[0], args.seconds) * args.models
        n_params = sum(p.numel() for p in a[0].parameters())
        print(f"| {name} | {n_params:,} | {slow:,.0f} | {fast:,.0f} | {fast / slow:.2f} | {diff:.1e} |")


if __name__ == "__main__":
    main()
