import os

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"  # never the hub, even where a user's shell allows it
os.environ.setdefault("MEMLIB_PROGRESS", "0")


def _share_the_cores() -> None:
    """Under pytest-xdist (make test), each worker computes on its share of the cores, not on all of them."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        import torch

        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        torch.set_num_threads(max(1, cores // workers))


_share_the_cores()


def pytest_collection_modifyitems(items):
    """Tests that use the smoke notebooks share one executed set (and its run store): one xdist worker runs them
    all (``--dist loadgroup``), so the notebooks are executed once per test session, not once per worker."""
    for item in items:
        if "smoke_notebooks" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("smoke_notebooks"))


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
    others, over what they stored."""

    def __init__(self, base):
        import memlib

        self.base = base
        self.store = memlib.RunStore(base / "store")
        self._done = {}

    def execute(self, path):
        from memlib.notebooks import notebook_paths, run_notebook

        if path.name.startswith("00_"):
            for other in notebook_paths():
                if not other.name.startswith("00_"):
                    self.execute(other)
            self.keys_before_explorer = self.store.keys()
        if path not in self._done:
            with pytest.MonkeyPatch.context() as mp:
                mp.setenv("MEMLIB_PROGRESS", "1")  # exercise the progress bars too
                out = run_notebook(path, self.base / "executed", preset="smoke", figures_dir=self.base / path.stem,
                                   extra={"cache_dir": str(self.store.root)})
            self._done[path] = (out, self.base / path.stem)
        return self._done[path]

    def execute_all(self):
        from memlib.notebooks import notebook_paths

        for path in notebook_paths():
            self.execute(path)
        return self.store


@pytest.fixture(scope="session")
def smoke_notebooks(tmp_path_factory):
    return SmokeNotebooks(tmp_path_factory.mktemp("smoke"))
