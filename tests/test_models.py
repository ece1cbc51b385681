import string

import pytest
import torch

import memlib
from memlib.models import TINY


@pytest.mark.parametrize("name", list(TINY))
def test_tiny_models_load_offline_and_encode(name):
    before = torch.random.get_rng_state()
    m = memlib.load_model(name, device="cpu")
    assert torch.equal(torch.random.get_rng_state(), before)  # init seed kept private
    assert 0.5e6 < m.n_params < 5e6
    ids = m.letter_ids(string.ascii_lowercase)
    assert len(set(ids)) == 26
    assert m.encode("abc") == [m.bos_id] + ids[:3]
    again = memlib.load_model(name, device="cpu")
    assert all(torch.equal(a, b) for a, b in zip(m.model.parameters(), again.model.parameters()))
    assert m.fingerprint == again.fingerprint


def test_families_differ():
    kinds = {type(memlib.load_model(n, device="cpu").model).__name__ for n in TINY}
    assert kinds == {"GPTNeoXForCausalLM", "PhiForCausalLM", "LlamaForCausalLM"}


def test_unknown_names_refused():
    with pytest.raises(ValueError, match="tiny-gpt"):
        memlib.load_model("tiny-gpt")
    with pytest.raises(ValueError, match="'/nonexistent/model/folder' is not available here"):
        memlib.load_model("/nonexistent/model/folder")
    with pytest.raises(ValueError, match="dtype='float8'"):
        memlib.load_model("tiny-llama", dtype="float8")


def _save_model_with_tokenizer_lacking(tmp_path, missing: str):
    """A real local model folder whose tokenizer has no token for ``missing``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(["<pad>", "<bos>", "<eos>", "<unk>"] + [c for c in string.printable[:62] if c != missing])}
    tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")
    tk.decoder = decoders.Fuse()
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, bos_token="<bos>", eos_token="<eos>", unk_token="<unk>", pad_token="<pad>")
    cfg = LlamaConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                      intermediate_size=64, bos_token_id=1, eos_token_id=2)
    LlamaForCausalLM(cfg).save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    return str(tmp_path)


def test_model_whose_tokenizer_splits_a_letter_is_refused(tmp_path):
    path = _save_model_with_tokenizer_lacking(tmp_path, "q")
    m = memlib.load_model(path, device="cpu")
    assert len(m.letter_ids("abcdefg")) == 7  # letters it has are fine
    with pytest.raises(ValueError) as e:
        m.letter_ids("opqr")
    assert "'q'" in str(e.value) and path in str(e.value)
    strings = [memlib.RandomString("qqqq", "abcdefghijklmnopq", (1 / 17,) * 17, 4.09, 0.0, "exponential", 0)]
    with pytest.raises(ValueError, match="'q'"):
        memlib.expose(m, strings, epochs=1, store=False)


def test_smollm2_is_a_real_pretrained_llm_loaded_offline(smollm2, tmp_path):
    m = smollm2
    assert m.n_params == 134_515_008
    assert type(m.model).__name__ == "LlamaForCausalLM"
    for n, p in m.model.named_parameters():
        assert p.dtype == torch.float32 and p.requires_grad, n
    assert {type(x).__name__ for x in m.model.modules()} >= {"Linear", "Embedding"}
    assert not any("quant" in type(x).__name__.lower() for x in m.model.modules())
    assert not getattr(m.model, "is_quantized", False) and getattr(m.model, "hf_quantizer", None) is None
    assert getattr(m.model.config, "quantization_config", None) is None
    ids = m.letter_ids(string.ascii_lowercase)
    assert len(set(ids)) == 26
    assert [m.tokenizer.decode([i]) for i in ids] == list(string.ascii_lowercase)
    # pretrained, not random: English text is far more likely than shuffled text
    text = m.tokenizer("The capital of France is Paris.", return_tensors="pt").input_ids
    shuffled = text[:, torch.randperm(text.shape[1], generator=torch.Generator().manual_seed(0))]
    with torch.no_grad():
        nll = [m.model(input_ids=t, labels=t).loss.item() for t in (text, shuffled)]
    assert nll[0] < 4.0 < nll[1]


def test_smollm2_trains_with_hf_trainer_and_saves(smollm2, tmp_path):
    from transformers import Trainer, TrainingArguments

    m = smollm2
    ids = torch.tensor(m.encode("abcabcabcabc"))
    data = [{"input_ids": ids, "labels": ids}]
    args = TrainingArguments(output_dir=str(tmp_path / "out"), max_steps=1, per_device_train_batch_size=1,
                             report_to=[], save_strategy="no", use_cpu=True, learning_rate=1e-4)
    before = m.model.model.norm.weight.detach().clone()
    try:
        Trainer(model=m.model, args=args, train_dataset=data).train()
        assert not torch.equal(before, m.model.model.norm.weight)  # it trained
        m.model.save_pretrained(tmp_path / "saved")
        assert (tmp_path / "saved" / "model.safetensors").stat().st_size > 500e6
    finally:
        m.restore()
    assert torch.equal(before, m.model.model.norm.weight)


def _tied_tiny_llama(tie: bool):
    from transformers import LlamaConfig, LlamaForCausalLM

    from memlib.models import char_tokenizer

    cfg = LlamaConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                      bos_token_id=1, eos_token_id=2, pad_token_id=0, tie_word_embeddings=tie)
    torch.manual_seed(0)
    return LlamaForCausalLM(cfg), char_tokenizer()


@pytest.mark.parametrize("tie", [True, False])
def test_tied_embedding_gradient_is_sparse_inside_but_dense_and_exact(tie):
    net, tok = _tied_tiny_llama(tie)
    reference = {k: v.clone() for k, v in net.state_dict().items()}
    ids = torch.tensor([[1] + tok.convert_tokens_to_ids(list("abcabdabeabf"))])

    def grads(model):
        model.zero_grad(set_to_none=True)
        model(input_ids=ids, labels=ids).loss.backward()
        return {n: p.grad for n, p in model.named_parameters()}

    dense = grads(net)
    m = memlib.LoadedModel(name="tied", model=net, tokenizer=tok, bos_id=1, fingerprint="x", default_lr=1e-3)
    assert m.model.get_input_embeddings().sparse is tie  # switched only where the weight is shared
    assert all(torch.equal(v, reference[k]) for k, v in net.state_dict().items())
    sparse = grads(m.model)
    for n, g in sparse.items():
        assert g.layout == torch.strided, n  # AdamW needs dense gradients
        torch.testing.assert_close(g, dense[n], rtol=1e-5, atol=1e-7, msg=n)
    # and a fused AdamW step runs on them
    torch.optim.AdamW(m.model.parameters(), lr=1e-3, fused=True).step()


def test_runs_on_a_tied_model_leave_its_weights_as_loaded():
    net, tok = _tied_tiny_llama(True)
    m = memlib.LoadedModel(name="tied", model=net, tokenizer=tok, bos_id=1, fingerprint="tied-test", default_lr=1e-2)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    run = memlib.expose(m, ["abcabcabdd"], test_strings=["bacbacbadd"], epochs=5, store=False)
    train = run.metrics[run.metrics.split == "train"].set_index("epoch").loss
    assert train[5] < train[0]  # it trained
    assert net.lm_head.weight is net.model.embed_tokens.weight  # still tied
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_a_random_weight_models_fingerprint_names_the_weights_it_got(tmp_path):
    """The same seed gives other initial weights on another CPU code path (here: ATen's plain kernels against
    this machine's own): the fingerprint, and so every run key, differs exactly when the weights do."""
    import hashlib
    import subprocess
    import sys

    from memlib.models import weights_digest

    def digest_of(net):
        return hashlib.sha256(b"".join(v.numpy().tobytes() for _, v in sorted(net.state_dict().items()))).hexdigest()

    code = ("import hashlib, memlib; m = memlib.load_model('tiny-llama', device='cpu'); "
            "print(m.fingerprint); print(hashlib.sha256(b''.join(v.numpy().tobytes() for _, v in "
            "sorted(m.model.state_dict().items()))).hexdigest())")
    env = {**__import__("os").environ, "ATEN_CPU_CAPABILITY": "default", "MEMLIB_CACHE": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    other_fp, other_weights = out.stdout.split()[-2:]
    here = memlib.load_model("tiny-llama", device="cpu")
    assert (other_fp == here.fingerprint) == (other_weights == digest_of(here.model))
    before = weights_digest(here.model)
    with torch.no_grad():
        next(here.model.parameters()).view(-1)[0] += 1e-6
    assert weights_digest(here.model) != before and here.fingerprint.endswith(before)


def test_a_random_weight_model_draws_its_initialisation_from_init_seed():
    """Two init seeds give two initialisations and fingerprints, the same seed the same; the global RNG is untouched;
    a model with stored weights refuses an init seed, and a bad seed is named."""
    before = torch.random.get_rng_state()
    a, b, a2 = (memlib.load_model("tiny-llama", device="cpu", init_seed=s) for s in (0, 1, 0))
    assert torch.equal(torch.random.get_rng_state(), before)
    assert a.fingerprint != b.fingerprint and ":seed0:" in a.fingerprint and ":seed1:" in b.fingerprint
    assert not torch.equal(next(a.model.parameters()), next(b.model.parameters()))
    assert a.fingerprint == a2.fingerprint and all(torch.equal(x, y) for x, y in zip(a.model.parameters(), a2.model.parameters()))
    assert memlib.load_model("tiny-llama", device="cpu").fingerprint == \
        memlib.load_model("tiny-llama", device="cpu", init_seed=memlib.models.TINY_INIT_SEED).fingerprint
    assert memlib.models.is_random_weight("smollm2-135m-random") and memlib.models.is_random_weight("tiny-phi-w16-l1")
    assert not memlib.models.is_random_weight("smollm2-135m")
    with pytest.raises(ValueError, match="init_seed=3 is not allowed for model 'smollm2-135m': its weights are stored"):
        memlib.load_model("smollm2-135m", init_seed=3)
    with pytest.raises(ValueError, match=r"init_seed=-1 is not allowed: use an integer from 0"):
        memlib.load_model("tiny-llama", init_seed=-1)


def test_a_sweep_gives_each_seed_of_a_random_weight_model_its_own_initialisation(tmp_path):
    """Every seed of a sweep replicates the initialisation as well as the string: a run of seed s starts from
    load_model(name, init_seed=s), whatever the order the sweep trains in."""
    runs = memlib.sweep.grid_runs(["tiny-llama"], [0, 1, 0], grid=[{"alphabet_size": 4}], length=8, n_train_strings=1,
                                  n_test_strings=1, epochs=1, store=tmp_path, progress=False)
    fps = [r.config.model_fingerprint for r in runs]
    assert fps[0] == fps[2] != fps[1]
    assert fps[1] == memlib.load_model("tiny-llama", device="cpu", init_seed=1).fingerprint
    assert runs[0].key == runs[2].key  # the same seed: the same run (loaded from the store)
