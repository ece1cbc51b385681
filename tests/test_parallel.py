"""Sweeps split over processes started by ``accelerate launch`` (on the CPU: gloo, one thread each)."""
import json
import re
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import memlib
from memlib import sweep
from memlib.notebooks import notebook_paths

sys.path.insert(0, str(Path(__file__).parent))
import launch_grid  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_launched_processes_split_a_grid_and_equal_a_serial_sweep(tmp_path, monkeypatch):
    store, out = tmp_path / "shared", tmp_path / "out"
    out.mkdir()
    _launch(tmp_path, "launch_grid.py", store, out)
    results = {p.name: json.loads(p.read_text()) for p in sorted(out.glob("rank*.json"))}
    assert sorted(results) == ["rank0.json", "rank1.json"]  # two processes really ran
    assert results["rank0.json"] == results["rank1.json"]  # each returns the whole grid, in the same order

    shared = memlib.RunStore(store)
    n = len(launch_grid.GRID["models"]) * len(launch_grid.GRID["seeds"]) * len(launch_grid.GRID["grid"])
    assert len(shared.keys()) == n
    metas = [shared.load(k).meta for k in shared.keys()]
    # every run trained once, by one of the two processes; how many each takes depends on the machine's load (a run
    # is claimed by whichever process gets to it first: under a busy test suite one process may take them all)
    assert {m["process"] for m in metas} <= {"0/2", "1/2"} and len(metas) == n
    assert not list((store / ".claims").glob("*/*"))  # the claims are removed once every run is stored
    assert {m["torch_threads"] for m in metas} == {1}  # one thread per process

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the launched processes, so that results can be equal to the bit
    try:
        serial = launch_grid.grid(memlib.RunStore(tmp_path / "serial"))
    finally:
        torch.set_num_threads(threads)
    assert [r.key for r in serial] == [r["key"] for r in results["rank0.json"]]
    for r, launched in zip(serial, results["rank0.json"]):
        pd.testing.assert_frame_equal(r.metrics, pd.DataFrame(launched["metrics"]), check_exact=True)


def test_launched_sweep_refuses_no_store(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ValueError, match="store=False is not allowed with 2 launched processes"):
        sweep.exposure_runs(["tiny-llama"], [0], alphabet_size=2, length=8, n_train_strings=1, n_test_strings=0,
                            epochs=1, store=False, progress=False)


def _launch(tmp_path, script, *args, fsdp=False):
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith(("ACCELERATE_", "OMP_", "FSDP_"))}
    env.update(HF_HOME=str(tmp_path / "hf"), HF_HUB_OFFLINE="1", MEMLIB_PROGRESS="0")
    # FSDP: the config file the README offers, with 2 processes instead of 8
    mode = ["--config_file", str(Path(__file__).parent.parent / "configs" / "fsdp.yaml")] if fsdp else [
        "--multi_gpu", "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    cmd = [str(Path(sys.executable).parent / "accelerate"), "launch", *mode, "--num_processes", "2",
           "--main_process_port", str(_free_port()), str(Path(__file__).parent / script), *map(str, args)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_fsdp_shards_one_model_over_two_processes_and_equals_a_serial_run(tmp_path):
    store, out = tmp_path / "shared", tmp_path / "out"
    out.mkdir()
    _launch(tmp_path, "launch_sharded.py", store, out, fsdp=True)
    r0, r1 = (json.loads((out / f"rank{i}.json").read_text()) for i in (0, 1))
    assert r0["shard_numel"] + r1["shard_numel"] == r0["n_params"]  # each process holds half the weights
    assert r0["keys"] == r1["keys"] and r0["metrics"] == r1["metrics"]  # both trained the same runs together
    shared = memlib.RunStore(store)
    assert sorted(shared.keys()) == sorted(r0["keys"])
    assert {shared.load(k).meta["process"] for k in r0["keys"]} == {"0/2"}  # the first process wrote the store

    model = memlib.load_model("tiny-llama")
    s = memlib.random_strings(3, 7, 24, seed=4)
    for key, metrics, seed in zip(r0["keys"], r0["metrics"], (0, 1)):
        run = memlib.expose(model, s[:1], test_strings=s[1:], epochs=6, eval_every=2, max_grad_norm=0.5, seed=seed,
                            store=False)
        assert run.key == key  # the same run as on one device: the store serves either
        got = pd.DataFrame(metrics)
        pd.testing.assert_frame_equal(run.metrics[["epoch", "split", "string"]], got[["epoch", "split", "string"]])
        for col in memlib.METRIC_COLUMNS:  # equal up to float rounding (gradient averaging, AdamW kernels)
            np.testing.assert_allclose(got[col], run.metrics[col], rtol=1e-5, atol=1e-6, err_msg=col)


_JOIN = """from memlib.parallel import processes
import torch, torch.distributed as dist
p = processes()
t = torch.tensor([p.rank + 1])
dist.all_reduce(t)
print("sum", int(t.item()))"""


async def _kernel_pair(folder, name):
    """Two kernels started side by side with the runner's kernel manager, as one notebook's two processes: each
    joins the notebook's rendezvous and all-reduces its rank + 1. Returns what each printed and its transport."""
    import asyncio
    import os

    from memlib.notebooks import kernel_manager

    async def one(rank):
        kdir = folder / f"{name}-k{rank}"
        kdir.mkdir()
        km = kernel_manager(kdir)()
        env = {**os.environ, "RANK": str(rank), "WORLD_SIZE": "2", "MEMLIB_RENDEZVOUS": str(folder / f"{name}.store"),
               "MEMLIB_WAIT_TIMEOUT": "60", "OMP_NUM_THREADS": "1"}
        await km.start_kernel(env=env)
        kc = km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=120)
            out = []
            reply = await kc.execute_interactive(_JOIN, timeout=120, output_hook=lambda m: out.append(
                m["content"].get("text", "") if m["msg_type"] == "stream" else ""))
            return "".join(out), reply["content"]["status"], km.transport
        finally:
            kc.stop_channels()
            await km.shutdown_kernel(now=True)

    return await asyncio.gather(one(0), one(1))


def test_kernels_and_rendezvous_started_side_by_side_never_collide(tmp_path):
    """The runner's kernels talk over Unix sockets in folders of their own, and a notebook's processes meet in a
    file store: nothing probes a TCP port and releases it for another to take. Two notebooks' kernel pairs are
    started at once (4 kernels side by side), 3 times over: every kernel starts, every pair meets, none collides."""
    import asyncio

    async def rounds():
        got = []
        for r in range(3):
            got.append(await asyncio.gather(_kernel_pair(tmp_path, f"a{r}"), _kernel_pair(tmp_path, f"b{r}")))
        return got

    results = asyncio.run(rounds())
    kernels = [k for rnd in results for pair in rnd for k in pair]
    assert len(kernels) == 12
    assert {transport for _, _, transport in kernels} == {"ipc"}
    assert all(status == "ok" and "sum 3" in out for out, status, _ in kernels), kernels


def _runner(tmp_path, notebooks: dict[str, list[str]], *args, env=None, timeout=300):
    """``python -m memlib.notebooks --processes 2`` over a folder of small notebooks (name: code cells); returns
    (the completed process, seconds it took)."""
    import os
    import time

    import nbformat

    folder = tmp_path / "nbs"
    folder.mkdir(exist_ok=True)
    for name, cells in notebooks.items():
        nb = nbformat.v4.new_notebook()
        params = nbformat.v4.new_code_cell('preset = "smoke"\nfigures_dir = "figures"')
        params.metadata["tags"] = ["parameters"]
        nb.cells = [params] + [nbformat.v4.new_code_cell(c) for c in cells]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, folder / name)
    run_env = {k: v for k, v in os.environ.items() if not k.startswith(("ACCELERATE_", "OMP_", "MKL_"))}
    run_env.update(MEMLIB_CACHE=str(tmp_path / "cache"), HF_HUB_OFFLINE="1", MEMLIB_PROGRESS="0", **(env or {}))
    cmd = [sys.executable, "-m", "memlib.notebooks", "--notebooks", str(folder), "--preset", "smoke", "--processes", "2",
           "--threads", "1", "--figures", str(tmp_path / "figures"), "--executed", str(tmp_path / "executed"), *args]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, env=run_env, capture_output=True, text=True, timeout=timeout)  # a hang fails
    return proc, time.monotonic() - t0


def _failed_after(stderr: str, notebook: str) -> float:
    import re

    m = re.search(rf"FAILED after (\d+) s: {re.escape(notebook)} failed", stderr)
    assert m, stderr[-3000:]
    return float(m.group(1))


def test_a_kernel_that_does_not_start_ends_its_notebook_at_once_and_the_next_one_runs(tmp_path):
    """What made make reproduce hang for good: the first process's kernel fails to start while the second
    process's kernel waits for it to join. Here the first process's kernel exits before it connects (a kernel
    spec that dies once, for RANK 0): the runner stops the waiting process, names the notebook, the process and
    why, runs the next notebook, and exits 1."""
    import json

    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (tmp_path / "dying_kernel.py").write_text(
        "import os, runpy, sys\n"
        "marker = os.environ['DIE_ONCE']\n"
        "if os.environ.get('RANK') == '0' and not os.path.exists(marker):\n"
        "    open(marker, 'w').close()\n"
        "    os._exit(3)\n"
        "sys.argv = ['ipykernel_launcher', *sys.argv[1:]]\n"
        "runpy.run_module('ipykernel_launcher', run_name='__main__')\n")
    (spec / "kernel.json").write_text(json.dumps({"argv": [sys.executable, str(tmp_path / "dying_kernel.py"), "-f",
                                                           "{connection_file}"],
                                                  "display_name": "Python 3", "language": "python"}))
    proc, _ = _runner(tmp_path, {"01_join.ipynb": [_JOIN], "02_after.ipynb": [_JOIN]},
                      env={"JUPYTER_PATH": str(tmp_path / "jupyter"), "DIE_ONCE": str(tmp_path / "died")})
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert (tmp_path / "died").exists()  # the kernel really died
    assert _failed_after(proc.stderr, "01_join.ipynb") < 60
    assert "01_join.ipynb failed outside a cell (kernel, time-out or papermill) in process 1 of 2 (the other process " \
           "stopped)" in proc.stderr
    assert "02_after.ipynb done" in proc.stdout  # the next notebook ran, both processes meeting again
    assert "1 of 2 notebooks failed: 01_join.ipynb (outside a cell)" in proc.stderr
    assert not list((tmp_path / "figures").glob(".staging-*"))


def test_a_kernel_that_dies_or_a_cell_that_fails_in_one_process_stops_the_others(tmp_path):
    """After the processes met: the second process's kernel dies while the first waits for it in a barrier
    (01), the second process's cell raises while the first waits (02), and the first fails at once with what
    reads as the echo of a peer's failure while the second fails 3 s later (03). Each notebook ends within a
    minute, named with the process and cell that caused it; the failed process's executed copy, with the error,
    is the one kept; the last notebook runs."""
    die = _JOIN + "\nimport os\nif p.rank == 1:\n    os._exit(1)\np.wait_for_everyone()"
    fail = _JOIN + "\nif p.rank == 1:\n    raise ValueError('boom in process 2')\np.wait_for_everyone()"
    echo = _JOIN + ("\nimport time\nif p.rank == 0:\n    raise RuntimeError('Connection closed by peer: typically caused by a "
                    "remote worker crashing')\ntime.sleep(3)\nraise ValueError('the cause')")
    proc, seconds = _runner(tmp_path, {"01_dies.ipynb": [die], "02_fails.ipynb": [fail], "03_echo.ipynb": [echo],
                                       "04_fine.ipynb": [_JOIN]})
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert _failed_after(proc.stderr, "01_dies.ipynb") < 60 and _failed_after(proc.stderr, "02_fails.ipynb") < 60
    assert "01_dies.ipynb failed outside a cell (kernel, time-out or papermill)" in proc.stderr
    assert "DeadKernelError" in proc.stderr or "died" in proc.stderr.lower()
    # the first process's barrier breaks too ("Connection closed by peer"): the cause is named, not that echo
    assert re.search(r"02_fails.ipynb failed in cell \d+ .* in process 2 of 2 \(the other process (stopped|failed with "
                     r"it)\): ValueError: boom in process 2", proc.stderr)
    assert "ValueError" in (tmp_path / "executed" / "02_fails.ipynb").read_text()
    # a process that fails first with what reads as another's failure: the runner waits for the other's report
    assert re.search(r"03_echo.ipynb failed in cell \d+ .* in process 2 of 2 \(the other process failed with it\): "
                     r"ValueError: the cause", proc.stderr)
    assert "04_fine.ipynb done" in proc.stdout
    assert "3 of 4 notebooks failed" in proc.stderr


def test_a_notebook_past_its_time_limit_is_stopped_and_named(tmp_path):
    proc, seconds = _runner(tmp_path, {"01_slow.ipynb": ["import time\ntime.sleep(600)"]}, "--timeout", "5")
    assert proc.returncode == 1
    assert "01_slow.ipynb failed outside a cell" in proc.stderr and "not finished within its time limit of 5 s" in proc.stderr
    assert seconds < 60


def test_a_runner_started_by_a_launcher_is_refused_with_what_to_run(tmp_path):
    import os

    env = {**os.environ, "WORLD_SIZE": "2", "RANK": "0"}
    out = subprocess.run([sys.executable, "-m", "memlib.notebooks", "--only", "02", "--preset", "smoke"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "python -m memlib.notebooks --processes N" in out.stderr


def _store_contents(root):
    store = memlib.RunStore(root)
    return {k: store.load(k) for k in store.keys()}


def _reproduce(tmp_path, name, procs):
    """``python -m memlib.notebooks --processes procs --threads 1`` on notebooks 02 and 04 at the smoke preset, into
    ``tmp_path / name``: (its stored runs, its figures folder)."""
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith(("ACCELERATE_", "OMP_", "MKL_"))}
    env.update(MEMLIB_CACHE=str(tmp_path / name / "cache"), HF_HUB_OFFLINE="1", MEMLIB_PROGRESS="0")
    cmd = [sys.executable, "-m", "memlib.notebooks", "--preset", "smoke", "--only", "02,04", "--processes", str(procs),
           "--threads", "1", "--figures", str(tmp_path / name / "figures"), "--executed", str(tmp_path / name / "executed")]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)  # a hang fails
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"{procs} process(es) x 1 thread(s)" in proc.stdout
    return _store_contents(tmp_path / name / "cache"), tmp_path / name / "figures"


def test_a_process_split_reproduce_gives_the_runs_and_figures_of_a_serial_one(tmp_path, smoke_notebooks):
    """`python -m memlib.notebooks --processes 2` (what `make reproduce` runs on 2 cores) on notebooks 02 and 04 at the
    smoke preset (two notebooks: the processes meet again for the second), one thread a process, against the same
    notebooks run serially at one thread: the same stored runs to the bit, shared between the two processes, and
    the same figures to the byte. The serial side is the session's shared smoke store where its runs were trained
    at one thread by one process (as under ``make test``'s workers), else a serial runner started here."""
    split, split_figures = _reproduce(tmp_path, "split", 2)
    notebooks = [p for p in notebook_paths() if p.name.startswith(("02_", "04_"))]
    serial_figures = {}
    for path in notebooks:
        _, folder = smoke_notebooks.execute(path)
        serial_figures.update({p.name: p.read_bytes() for p in folder.iterdir() if p.suffix == ".png"})
    serial = {k: smoke_notebooks.store.load(k) for k in smoke_notebooks.store.keys() if k in split}
    if not serial or any((r.meta["torch_threads"], r.meta["process"]) != (1, "0/1") for r in serial.values()):
        serial, folder = _reproduce(tmp_path, "serial", 1)  # the shared store ran otherwise: a serial run of our own
        serial_figures = {p.name: p.read_bytes() for p in folder.iterdir() if p.suffix == ".png"}
    assert sorted(serial) == sorted(split) and len(serial) > 4
    assert {r.meta["process"] for r in serial.values()} == {"0/1"}
    assert {r.meta["process"] for r in split.values()} <= {"0/2", "1/2"}  # who trains what depends on the load
    assert {r.meta["torch_threads"] for r in [*serial.values(), *split.values()]} == {1}
    for key, run in serial.items():
        pd.testing.assert_frame_equal(run.metrics, split[key].metrics, check_exact=True)
        assert sorted(run.arrays) == sorted(split[key].arrays)
        for name, a in run.arrays.items():
            np.testing.assert_array_equal(a, split[key].arrays[name], err_msg=name)
    figures = {p.name: p.read_bytes() for p in split_figures.iterdir() if p.suffix == ".png"}
    assert serial_figures and figures == serial_figures
    for path in notebooks:
        assert (tmp_path / "split" / "executed" / path.name).is_file()


def test_a_long_wait_says_what_it_waits_for_and_a_short_one_says_nothing(capsys):
    import time

    from memlib.parallel import saying

    with saying("process 2 of 2 is waiting for the others", after=0.1):
        time.sleep(0.4)
    with saying("never said", after=5):
        pass
    time.sleep(0.1)
    err = capsys.readouterr().err
    assert "[memlib] process 2 of 2 is waiting for the others" in err and "never said" not in err


def test_the_wait_limit_comes_from_the_runner_and_a_bad_one_is_refused(monkeypatch):
    from memlib.notebooks import TIME_LIMIT_S, time_limit
    from memlib.parallel import DEFAULT_WAIT_S, wait_timeout

    monkeypatch.delenv("MEMLIB_WAIT_TIMEOUT", raising=False)
    assert wait_timeout().total_seconds() == DEFAULT_WAIT_S
    monkeypatch.setenv("MEMLIB_WAIT_TIMEOUT", "7200.0")
    assert wait_timeout().total_seconds() == 7200
    for bad in ("0", "-5", "soon"):
        monkeypatch.setenv("MEMLIB_WAIT_TIMEOUT", bad)
        with pytest.raises(ValueError, match=f"MEMLIB_WAIT_TIMEOUT='{bad}' is not allowed: use a number of seconds"):
            wait_timeout()
    assert time_limit("default") == TIME_LIMIT_S["default"] == 7200 and time_limit("smoke", 30) == 30
    assert time_limit("a-preset-of-mine") == 7200


def test_the_runner_shards_models_with_fsdp_and_refuses_it_for_one_process(tmp_path):
    cell = ("import memlib\nfrom memlib.parallel import processes\nm = memlib.load_model('tiny-llama')\n"
            "assert m.sharded and processes().sharded and processes().world == 2\n"
            "print('local share', sum(p.to_local().numel() for p in m.model.parameters()), 'of', m.n_params)")
    proc, _ = _runner(tmp_path, {"01_sharded.ipynb": [cell]}, "--fsdp")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "01_sharded.ipynb done" in proc.stdout
    out = subprocess.run([sys.executable, "-m", "memlib.notebooks", "--only", "02", "--preset", "smoke", "--processes",
                          "1", "--fsdp"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "--fsdp with 1 process is not allowed" in out.stderr
