"""Reliability: bad input refused before any work with nothing written, a non-finite loss stops a
run, failing notebooks are reported and leave figures alone, results are reproducible, and
nothing received can run code."""
import json
import math
import re
import subprocess
import sys
import warnings
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch

import memlib
from memlib import Stage, notebooks, sweep
from memlib.probes import ProbeSpec


@pytest.mark.parametrize("call, message", [
    (lambda: memlib.random_string(1, 10, seed=0), "alphabet_size=1"),
    (lambda: memlib.random_string(27, 10, seed=0), "alphabet_size=27"),
    (lambda: memlib.random_string(4, 0, seed=0), "length=0"),
    (lambda: memlib.random_string(4, 10, entropy=math.nan, seed=0), "entropy=nan"),
    (lambda: memlib.random_string(4, 10, entropy=0.0, seed=0), "entropy=0.0"),
    (lambda: memlib.random_string(4, 10, entropy=2.5, seed=0), "entropy=2.5"),
    (lambda: memlib.random_strings(0, 4, 10, seed=0), "n=0"),
    (lambda: memlib.random_string(4, 10, seed=-1), "seed=-1"),
])
def test_bad_strings_are_refused_naming_the_value(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_unknown_or_unavailable_models_say_what_to_do(monkeypatch):
    with pytest.raises(ValueError, match="model 'tiny-gpt' is not known: use one of"):
        memlib.load_model("tiny-gpt")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # a hub id no cache holds (a real one, such as a small Pythia, loads wherever a cache has it)
    with pytest.raises(ValueError, match=r"'memlib-tests/no-such-model' is not available here.*HF_HUB_OFFLINE is set.*"
                                         r"hf download memlib-tests/no-such-model"):
        memlib.load_model("memlib-tests/no-such-model")
    with pytest.raises(ValueError, match="trust_remote_code='yes'"):
        memlib.load_model("tiny-llama", trust_remote_code="yes")


@pytest.mark.parametrize("case, message", [
    ("too_long", r"length=2049 is not allowed for training strings on model 'tiny-llama': its context holds 2048 "
                 r"tokens, .* so use at most 2048 characters"),
    ("held_out_is_trained", "test string .* is also a training string"),
    ("duplicate_train", "train strings list .* twice"),
    ("duplicate_test", "test strings list .* twice"),
    ("empty_train", "train_strings is empty"),
    ("epochs", "epochs=0 is not allowed"),
    ("lr", "lr=-0.001 is not allowed"),
    ("seed", "seed=1.5 is not allowed"),
    ("schedule_too_long", "length=2049 is not allowed for the schedule's strings"),
    ("schedule_held_out", "test string .* is also a training string"),
    ("shift_probes", r"length=2045 is not allowed for the shift probes .* BOS and 8 shifted letters .* at most 2040 "
                     r"characters"),
])
def test_bad_runs_are_refused_before_training_and_write_nothing(tiny_llama, tmp_path, no_training, case, message):
    s = memlib.random_strings(3, 4, 12, seed=0)
    store = memlib.RunStore(tmp_path / "store")
    long = memlib.random_strings(2, 4, 2049, seed=0)
    kw = dict(store=store, progress=False)
    calls = {
        "too_long": lambda: memlib.expose(tiny_llama, long[:1], epochs=1, **kw),
        "held_out_is_trained": lambda: memlib.expose(tiny_llama, s[:1], test_strings=s[:2], epochs=1, **kw),
        "duplicate_train": lambda: memlib.expose(tiny_llama, [s[0], s[0]], epochs=1, **kw),
        "duplicate_test": lambda: memlib.expose(tiny_llama, s[:1], test_strings=[s[1], s[1]], epochs=1, **kw),
        "empty_train": lambda: memlib.expose(tiny_llama, [], epochs=1, **kw),
        "epochs": lambda: memlib.expose(tiny_llama, s[:1], epochs=0, **kw),
        "lr": lambda: memlib.expose(tiny_llama, s[:1], epochs=1, lr=-1e-3, **kw),
        "seed": lambda: memlib.expose(tiny_llama, s[:1], epochs=1, seed=1.5, **kw),
        "schedule_too_long": lambda: memlib.expose_schedule(tiny_llama, [Stage(long[0], epochs=1)], **kw),
        "schedule_held_out": lambda: memlib.expose_schedule(tiny_llama, [Stage(s[0], epochs=1)], test_strings=s[:1],
                                                            **kw),
        "shift_probes": lambda: memlib.expose(tiny_llama, memlib.random_strings(1, 4, 2045, seed=0), epochs=1,
                                              probes=ProbeSpec(shifts=(1, 8)), **kw),
    }
    with pytest.raises(ValueError, match=message):
        calls[case]()
    assert not (tmp_path / "store").exists()


def test_a_store_that_cannot_be_written_is_refused_before_training(tiny_llama, tmp_path, no_training):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    s = memlib.random_strings(1, 4, 12, seed=0)
    with pytest.raises(ValueError, match=f"run store {blocked} cannot be written"):
        memlib.expose(tiny_llama, s, epochs=1, store=memlib.RunStore(blocked), progress=False)
    with pytest.raises(ValueError, match="cannot be written"):
        sweep.exposure_runs(["tiny-llama"], [0], alphabet_size=4, length=12, n_train_strings=1, n_test_strings=1,
                            epochs=1, store=memlib.RunStore(blocked / "sub"), progress=False)
    assert blocked.read_text() == "not a folder"


def test_a_loss_that_becomes_nan_stops_the_run_and_stores_nothing(tiny_llama, tmp_path):
    s = memlib.random_strings(2, 4, 12, seed=0)
    store = memlib.RunStore(tmp_path)
    with pytest.raises(FloatingPointError, match=r"the training loss became (nan|inf) at epoch (\d+) \(model tiny-llama") as e:
        memlib.expose(tiny_llama, s[:1], test_strings=s[1:], epochs=20, lr=1e12, store=store, progress=False)
    assert int(__import__("re").search(r"at epoch (\d+)", str(e.value)).group(1)) < 20  # stopped inside the loop
    assert store.keys() == []
    # the model is put back as loaded: the next run trains normally
    run = memlib.expose(tiny_llama, s[:1], test_strings=s[1:], epochs=2, store=False, progress=False)
    assert np.isfinite(run.metrics.loss).all()


def test_the_same_configuration_and_seed_give_bit_identical_results(tiny_llama):
    s = memlib.random_strings(3, 5, 16, seed=4)
    kw = dict(test_strings=s[2:], epochs=6, lr=3e-3, seed=7, batch_size=1, store=False, progress=False)
    a = memlib.expose(tiny_llama, s[:2], **kw)
    torch.manual_seed(12345)  # the global generator's state does not matter
    b = memlib.expose(tiny_llama, s[:2], **kw)
    assert a.metrics.equals(b.metrics)
    assert a.arrays.keys() == b.arrays.keys() and all(np.array_equal(a.arrays[k], b.arrays[k], equal_nan=True)
                                                      for k in a.arrays)
    for key in ("torch", "transformers", "device", "torch_threads", "python", "platform"):
        assert key in a.meta
    assert a.config.weights_dtype == "float32"


def test_stored_runs_load_without_pickle(tiny_llama, tmp_path):
    """A run store holds JSON, CSV and a plain .npz (no object arrays): loading allows no pickle."""
    s = memlib.random_strings(2, 4, 12, seed=0)
    run = memlib.expose(tiny_llama, s[:1], test_strings=s[1:], epochs=2, store=memlib.RunStore(tmp_path), progress=False)
    folder = memlib.RunStore(tmp_path).path(run.key)
    with np.load(folder / "arrays.npz", allow_pickle=False) as z:
        assert all(z[k].dtype != object for k in z.files)
    # an .npz that needs pickle (object arrays) is refused on load, reported, and never used
    np.savez(folder / "arrays.npz", evil=np.array([{"a": 1}], dtype=object))
    manifest = json.loads((folder / "manifest.json").read_text())
    import hashlib

    manifest["arrays.npz"] = hashlib.sha256((folder / "arrays.npz").read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.warns(UserWarning, match="ignoring damaged run"):
        assert memlib.RunStore(tmp_path).load(run.key) is None
    src = (Path(memlib.__file__).parent).glob("*.py")
    for path in src:  # no pickle anywhere in the library
        text = path.read_text()
        assert "import pickle" not in text and "torch.load(" not in text and "allow_pickle=True" not in text, path


def _notebook(path: Path, cells: list[str]) -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('preset = "smoke"\nfigures_dir = "figures"')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params] + [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


_FIGURE = """import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from memlib import figures
fig, ax = plt.subplots()
ax.plot([0, 1], [{y}, 1])
figures.save_figure(fig, "99_check", figures_dir)"""


def test_a_failing_notebook_is_named_with_its_cell_and_leaves_the_figures_alone(tmp_path, monkeypatch, capsys):
    figures = tmp_path / "figures"
    figures.mkdir()
    (figures / "99_check.png").write_bytes(b"old figure")
    bad = _notebook(tmp_path / "99_check.ipynb", [_FIGURE.format(y=0), "raise ValueError('boom in cell two')"])
    with pytest.raises(notebooks.NotebookFailed, match=r"99_check.ipynb failed in cell \d+ .*ValueError: boom in cell two"):
        notebooks.run_notebook(bad, tmp_path / "executed", preset="smoke", figures_dir=figures)
    assert (figures / "99_check.png").read_bytes() == b"old figure" and not (figures / "99_check.svg").exists()
    assert sorted(p.name for p in figures.iterdir()) == ["99_check.png"]  # no staging folder left
    # through the command line: exit status 1, the notebook and the cell named
    monkeypatch.setattr(notebooks, "notebook_paths", lambda *a: [bad])
    assert notebooks.main(["--figures", str(figures), "--executed", str(tmp_path / "executed")]) == 1
    err = capsys.readouterr().err
    assert re.search(r"FAILED after \d+ s: 99_check.ipynb failed in cell", err) and "1 of 1 notebooks failed: 99_check.ipynb (cell" in err
    # a notebook that succeeds replaces its figures
    good = _notebook(tmp_path / "99_check.ipynb", [_FIGURE.format(y=0.5)])
    notebooks.run_notebook(good, tmp_path / "executed", preset="smoke", figures_dir=figures)
    assert (figures / "99_check.png").read_bytes()[:4] == b"\x89PNG" and (figures / "99_check.svg").is_file()
    assert sorted(p.name for p in figures.iterdir()) == ["99_check.png", "99_check.svg"]


def test_make_reproduce_exits_non_zero_when_a_notebook_fails(tmp_path):
    """The command make reproduce runs, on a real notebook given a parameter its preset check refuses."""
    out = subprocess.run([sys.executable, "-m", "memlib.notebooks", "--only", "01_", "--preset", "smoke",
                          "--param", "alphabet_size=99", "--figures", str(tmp_path / "f"),
                          "--executed", str(tmp_path / "e")], capture_output=True, text=True, timeout=300,
                         env={**__import__("os").environ, "MEMLIB_CACHE": str(tmp_path / "store")})
    assert out.returncode == 1
    assert "01_dynamics.ipynb failed in cell" in out.stderr and "alphabet_size=99" in out.stderr
    assert not list((tmp_path / "f").glob("*.png"))


def _same_run(a, b):
    assert a.metrics.equals(b.metrics)
    assert a.arrays.keys() == b.arrays.keys()
    for k in a.arrays:
        assert np.array_equal(a.arrays[k], b.arrays[k], equal_nan=True), k


class _Killed(BaseException):
    pass


def _kill_after_saves(monkeypatch, n):
    """Let ``n`` checkpoints be written, then stop the run as a kill would (nothing after it runs)."""
    from memlib import checkpoint

    original, count = checkpoint.Checkpoint.save, {"n": 0}

    def save(self, **kw):
        original(self, **kw)
        count["n"] += 1
        if count["n"] == n:
            raise _Killed

    monkeypatch.setattr(checkpoint.Checkpoint, "save", save)
    return lambda: monkeypatch.setattr(checkpoint.Checkpoint, "save", original)


def _with_dropout(p=0.2):
    """tiny-llama with attention dropout on (its config has none): training then draws from the
    seeded generator, so a resume that did not restore the generator's state would differ."""
    m = memlib.load_model("tiny-llama", device="cpu")
    for layer in m.model.model.layers:
        layer.self_attn.attention_dropout = p
    return m


@pytest.mark.parametrize("kind", ["expose with probes", "expose with dropout, linear decay, batches",
                                  "expose with shuffled batches, warm-up, cosine decay",
                                  "schedule with until stages", "tied weights (SmolLM2-135M)"])
def test_a_run_resumes_from_its_checkpoint_bit_identically(tiny_llama, smollm2, tmp_path, monkeypatch, kind):
    s = memlib.random_strings(4, 5, 16, seed=6)
    every, kills = 4, 3
    if kind == "expose with probes":
        def go(store, **kw):
            return memlib.expose(tiny_llama, s[:2], test_strings=s[2:], epochs=24, lr=3e-3, eval_every=[0, 5, 9, 13],
                                 store=store, probes=ProbeSpec(at=("memorised", 6, "last"), ks=(0, 4, 16), draws=1),
                                 progress=False, **kw)
    elif kind == "expose with dropout, linear decay, batches":
        model = _with_dropout()

        def go(store, **kw):
            return memlib.expose(model, s[:3], test_strings=s[3:], epochs=20, lr=3e-3, dropout=True,
                                 lr_schedule="linear", batch_size=2, store=store, progress=False, **kw)
    elif kind.startswith("expose with shuffled"):  # the order of a resumed epoch is the one it had
        def go(store, **kw):
            return memlib.expose(tiny_llama, s[:3], test_strings=s[3:], epochs=20, lr=3e-3, lr_schedule="cosine",
                                 warmup=0.1, shuffle=True, batch_size=1, store=store, progress=False, **kw)
    elif kind == "schedule with until stages":
        def go(store, **kw):
            stages = [Stage(s[0], until=0.9, hold=2, max_epochs=40), Stage(s[1], epochs=7),
                      Stage(s[0], until=1.0, max_epochs=30)]
            return memlib.expose_schedule(tiny_llama, stages, test_strings=s[2:], lr=3e-3, eval_every=3,
                                          reset_optimizer=False, lr_schedule="linear", store=store, progress=False, **kw)
    else:
        every, kills = 2, 1
        short = memlib.random_strings(2, 4, 8, seed=6)

        def go(store, **kw):
            return memlib.expose(smollm2, short[:1], test_strings=short[1:], epochs=4, store=store, progress=False, **kw)
    whole = go(memlib.RunStore(tmp_path / "whole"))
    if kind.startswith("schedule"):  # saved at multiples of `every` after a stage's first epoch: kill in stage 2
        kills = int(whole.arrays["stage_bounds"][1]) // every + 1
    store = memlib.RunStore(tmp_path / "store")
    put_back = _kill_after_saves(monkeypatch, kills)
    with pytest.raises(_Killed):
        go(store, checkpoint_every=every)
    put_back()
    assert store.keys() == []
    (folder,) = list((store.root / "checkpoints").iterdir())
    saved = json.loads((folder / "state.json").read_text())
    assert saved["state"]["epoch"] == every * kills or kind.startswith("schedule")
    assert sorted(p.name for p in folder.iterdir()) == sorted(["state.json", saved["tensors"]])  # earlier ones pruned
    if kind.startswith("schedule"):
        assert saved["state"]["stage"] >= 1  # resumed past a finished stage
    if kind.startswith("tied"):
        assert saved["aliases"]  # the shared embedding is saved once
    resumed = go(store, checkpoint_every=every)
    assert resumed.meta["resumed_from_epoch"] == saved["state"]["epoch"] and not resumed.from_store
    _same_run(whole, resumed)
    assert not folder.exists()  # removed once stored
    assert store.keys() == [resumed.key]
    if kind.startswith("expose with dropout"):  # the check has teeth: without the same generator state it differs
        other = memlib.expose(model, s[:3], test_strings=s[3:], epochs=20, lr=3e-3, dropout=True, lr_schedule="linear",
                              batch_size=2, seed=1, store=False, progress=False)
        assert not np.array_equal(other.arrays["train_p_true"], whole.arrays["train_p_true"])


def test_a_damaged_checkpoint_is_reported_and_the_run_starts_over(tiny_llama, tmp_path, monkeypatch):
    s = memlib.random_strings(2, 4, 12, seed=1)
    store = memlib.RunStore(tmp_path)
    put_back = _kill_after_saves(monkeypatch, 1)
    with pytest.raises(_Killed):
        memlib.expose(tiny_llama, s[:1], test_strings=s[1:], epochs=10, store=store, checkpoint_every=3,
                      progress=False)
    put_back()
    folder = next((store.root / "checkpoints").iterdir())
    (folder / json.loads((folder / "state.json").read_text())["tensors"]).write_bytes(b"tampered")
    with pytest.warns(UserWarning, match="ignoring checkpoint"):
        run = memlib.expose(tiny_llama, s[:1], test_strings=s[1:], epochs=10, store=store, checkpoint_every=3,
                            progress=False)
    assert "resumed_from_epoch" not in run.meta
    _same_run(run, memlib.expose(tiny_llama, s[:1], test_strings=s[1:], epochs=10, store=False, progress=False))
    for bad, message in ((0, "checkpoint_every=0 is not allowed"), (2.5, "checkpoint_every=2.5")):
        with pytest.raises(ValueError, match=message):
            memlib.expose(tiny_llama, s[:1], epochs=2, store=store, checkpoint_every=bad, progress=False)
    with pytest.raises(ValueError, match="checkpoint_every=2 is not allowed with store=False"):
        memlib.expose(tiny_llama, s[:1], epochs=2, store=False, checkpoint_every=2, progress=False)


_SWEEP = dict(alphabet_size=5, length=24, n_train_strings=1, n_test_strings=1, epochs=80)


def _sweep(store):
    """The sweep the child processes run (six tiny runs)."""
    return sweep.exposure_runs(["tiny-llama"], list(range(6)), store=store, progress=False, **_SWEEP)


_CHILD = """
import os, signal, sys
import torch
torch.set_num_threads(1)  # two children share two cores: more threads than cores makes tiny models crawl
import memlib
from memlib import checkpoint, sweep
store, what = memlib.RunStore(sys.argv[1]), sys.argv[2]
if what == "run":  # SIGKILL itself right after its third checkpoint: a kill at a known point, no race
    save, count = checkpoint.Checkpoint.save, []
    def killing_save(self, **kw):
        save(self, **kw)
        count.append(1)
        if len(count) == 3:
            os.kill(os.getpid(), signal.SIGKILL)
    checkpoint.Checkpoint.save = killing_save
    m = memlib.load_model("tiny-llama", device="cpu")
    s = memlib.random_strings(3, 5, 24, seed=3)
    memlib.expose(m, s[:2], test_strings=s[2:], epochs=40, lr=3e-3, batch_size=1, store=store, checkpoint_every=5,
                  progress=False)
else:
    sweep.exposure_runs(["tiny-llama"], list(range(6)), alphabet_size=5, length=24, n_train_strings=1,
                        n_test_strings=1, epochs=80, store=store, progress=False)
"""


@pytest.fixture
def children():
    """Child processes started by a test; any still running when it ends (a failed test) are killed, so
    that they never slow the tests after it."""
    started = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _start(tmp_path, what, children):
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    env = {**__import__("os").environ, "HF_HUB_OFFLINE": "1", "MEMLIB_PROGRESS": "0", "OMP_NUM_THREADS": "1"}
    children.append(subprocess.Popen([sys.executable, str(script), str(tmp_path / "store"), what], env=env))
    return children[-1]


# Generous: these only catch a hang. A slow machine (CI's has been several times slower than ours) must not fail.
def _wait_for(condition, proc, timeout=900):
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, "the child finished before it could be killed: give it more work"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _kill_once(proc, condition) -> None:
    """SIGKILL ``proc`` as soon as ``condition()`` holds (and in any case before returning)."""
    try:
        _wait_for(condition, proc)
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture
def one_thread():
    """torch on one thread, as in the child processes (results equal to the bit need the same thread count)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_a_run_killed_with_sigkill_resumes_from_its_checkpoint(tiny_llama, tmp_path, children, one_thread):
    proc = _start(tmp_path, "run", children)
    assert proc.wait(timeout=900) == -9  # killed by SIGKILL after its third checkpoint (epoch 15)
    (folder,) = list((tmp_path / "store" / "checkpoints").iterdir())
    assert json.loads((folder / "state.json").read_text())["state"]["epoch"] == 15
    s = memlib.random_strings(3, 5, 24, seed=3)
    kw = dict(test_strings=s[2:], epochs=40, lr=3e-3, batch_size=1, progress=False)
    resumed = memlib.expose(tiny_llama, s[:2], store=memlib.RunStore(tmp_path / "store"), checkpoint_every=5, **kw)
    assert resumed.meta["resumed_from_epoch"] == 15
    _same_run(resumed, memlib.expose(tiny_llama, s[:2], store=False, **kw))
    assert not folder.exists()


def test_a_sweep_killed_with_sigkill_retrains_only_what_had_not_finished(tmp_path, children):
    store = memlib.RunStore(tmp_path / "store")
    _kill_once(_start(tmp_path, "sweep", children), lambda: len(store.keys()) >= 2)
    finished = {k: (store.path(k) / "manifest.json").stat().st_mtime_ns for k in store.keys()}
    assert 2 <= len(finished) < 6
    runs = _sweep(store)
    assert len(runs) == 6 and sorted(store.keys()) == sorted(r.key for r in runs)
    for r in runs:  # the finished ones loaded untouched, the others trained now
        assert r.from_store == (r.key in finished)
    assert all((store.path(k) / "manifest.json").stat().st_mtime_ns == t for k, t in finished.items())


def test_two_processes_writing_one_store_one_killed_leave_only_complete_runs(tmp_path, children):
    a, b = _start(tmp_path, "sweep", children), _start(tmp_path, "sweep", children)  # the same six runs, one store
    store = memlib.RunStore(tmp_path / "store")
    _kill_once(a, lambda: len(store.keys()) >= 1)
    assert b.wait(timeout=900) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a damaged run would warn
        assert len(store.keys()) == 6 and all(store.load(k) is not None for k in store.keys())
    assert all(r.from_store for r in _sweep(store))  # nothing left to train
