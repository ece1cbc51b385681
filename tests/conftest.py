import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MEMLIB_PROGRESS", "0")


@pytest.fixture(scope="session")
def tiny_llama():
    import memlib

    return memlib.load_model("tiny-llama", device="cpu")


@pytest.fixture(scope="session")
def smollm2():
    import memlib

    return memlib.load_model("smollm2-135m", device="cpu")
