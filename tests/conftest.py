import json
import os

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"  # never the hub, even where a user's shell allows it
os.environ.setdefault("MEMLIB_PROGRESS", "0")


def _share_the_cores() -> None:
    """Under pytest-xdist (make test), each worker computes on its share of the cores, not on all of them, and so
    do the notebook kernels and other processes it starts (``OMP_NUM_THREADS``, read by their torch)."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        import torch

        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        share = max(1, cores // workers)
        torch.set_num_threads(share)
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(share)


_share_the_cores()


@pytest.fixture(scope="session")
def tiny_llama():
    import memlib

    return memlib.load_model("tiny-llama", device="cpu")


@pytest.fixture
def no_training(monkeypatch):
    """Any optimiser step fails the test: proves that a refusal came before any training."""
    import torch

    def refuse(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(torch.optim.AdamW, "step", refuse)


@pytest.fixture(scope="session")
def smollm2():
    import memlib

    return memlib.load_model("smollm2-135m", device="cpu")


class SmokeNotebooks:
    """Every numbered notebook executed at the smoke preset at most once per test session, all into
    one run store (as ``make reproduce`` fills one): ``execute(path)`` -> (executed copy, figures
    folder); ``store`` is the shared :class:`memlib.RunStore`. The explorer (00) runs after the
    others, over what they stored.

    Under pytest-xdist (``make test``) the workers share one folder: the first worker that needs a notebook
    executes it while holding that notebook's file lock, the others wait for it and read its results, so no
    notebook runs twice however the tests are spread."""

    def __init__(self, base):
        import memlib

        self.base = base
        self.store = memlib.RunStore(base / "store")

    def execute(self, path):
        from filelock import FileLock

        from memlib.notebooks import notebook_paths, run_notebook

        if path.name.startswith("00_"):
            for other in notebook_paths():
                if not other.name.startswith("00_"):
                    self.execute(other)
        done = self.base / f".{path.stem}.done"
        with FileLock(str(self.base / f".{path.stem}.lock")):
            if not done.exists():
                if path.name.startswith("00_"):
                    (self.base / "keys_before_explorer.json").write_text(json.dumps(self.store.keys()))
                with pytest.MonkeyPatch.context() as mp:
                    mp.setenv("MEMLIB_PROGRESS", "1")  # exercise the progress bars too
                    run_notebook(path, self.base / "executed", preset="smoke", figures_dir=self.base / path.stem,
                                 extra={"cache_dir": str(self.store.root)})
                done.write_text("executed\n")
        return self.base / "executed" / path.name, self.base / path.stem

    @property
    def keys_before_explorer(self) -> list[str]:
        """The store's runs just before the explorer (00) was executed."""
        return json.loads((self.base / "keys_before_explorer.json").read_text())

    def execute_all(self):
        from memlib.notebooks import notebook_paths

        for path in notebook_paths():
            self.execute(path)
        return self.store


@pytest.fixture(scope="session")
def smoke_notebooks(tmp_path_factory):
    """One :class:`SmokeNotebooks` per test run: in the session's temporary folder, or under pytest-xdist in the
    folder the workers' temporary folders share."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    base = root / "smoke"
    base.mkdir(exist_ok=True)
    return SmokeNotebooks(base)
