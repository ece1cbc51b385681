"""Sweeps split over processes started by ``accelerate launch`` (on the CPU: gloo, one thread each)."""
import json
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


def test_each_notebook_of_a_launched_runner_meets_on_a_fresh_port(tmp_path):
    """memlib.notebooks calls next_rendezvous before each notebook: both processes get the same fresh port each
    time (never the launcher's, never a previous notebook's), and a child process on each side (a notebook's
    kernel) joins a process group there."""
    out = tmp_path / "out"
    out.mkdir()
    _launch(tmp_path, "launch_rendezvous.py", out)
    r0, r1 = (json.loads((out / f"rank{i}.json").read_text()) for i in (0, 1))
    assert r0["rounds"] == r1["rounds"]
    ports = [r["port"] for r in r0["rounds"]]
    assert len(set(ports)) == 3 and r0["launcher_port"] not in ports
    assert [r["sum"] for r in r0["rounds"]] == [3, 3, 3]  # ranks 0 and 1 (+1 each) met in every round


def _store_contents(root):
    store = memlib.RunStore(root)
    return {k: store.load(k) for k in store.keys()}


def test_a_process_split_reproduce_gives_the_runs_and_figures_of_a_serial_one(tmp_path):
    """`python -m memlib.notebooks --processes 2` (what `make reproduce` runs on 2 cores) against `--processes 1`,
    both at one thread a process, on notebooks 02 and 04 at the smoke preset (two notebooks: the processes meet
    again for the second): the same stored runs to the bit, shared between the two processes, and the same
    figures to the byte."""
    out = {}
    for name, procs in (("serial", 1), ("split", 2)):
        env = {k: v for k, v in __import__("os").environ.items() if not k.startswith(("ACCELERATE_", "OMP_", "MKL_"))}
        env.update(MEMLIB_CACHE=str(tmp_path / name / "cache"), HF_HUB_OFFLINE="1", MEMLIB_PROGRESS="0")
        cmd = [sys.executable, "-m", "memlib.notebooks", "--preset", "smoke", "--only", "02,04", "--processes", str(procs),
               "--threads", "1", "--figures", str(tmp_path / name / "figures"),
               "--executed", str(tmp_path / name / "executed")]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)  # a hang fails
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert f"{procs} process(es) x 1 thread(s)" in proc.stdout
        out[name] = _store_contents(tmp_path / name / "cache")
    serial, split = out["serial"], out["split"]
    assert sorted(serial) == sorted(split) and len(serial) > 4
    assert {r.meta["process"] for r in serial.values()} == {"0/1"}
    assert {r.meta["process"] for r in split.values()} <= {"0/2", "1/2"}  # who trains what depends on the load
    assert {r.meta["torch_threads"] for r in [*serial.values(), *split.values()]} == {1}
    for key, run in serial.items():
        pd.testing.assert_frame_equal(run.metrics, split[key].metrics, check_exact=True)
        assert sorted(run.arrays) == sorted(split[key].arrays)
        for name, a in run.arrays.items():
            np.testing.assert_array_equal(a, split[key].arrays[name], err_msg=name)
    figures = {name: {p.name: p.read_bytes() for p in (tmp_path / name / "figures").iterdir()} for name in out}
    assert figures["serial"] and figures["serial"] == figures["split"]
    for notebook in ("02_string_difficulty.ipynb", "04_sequential_exposure.ipynb"):
        assert (tmp_path / "split" / "executed" / notebook).is_file()
