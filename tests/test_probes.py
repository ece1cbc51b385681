import json
import random

import numpy as np
import pandas as pd
import pytest
import torch

import memlib
from memlib import context as C, probes as P


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models gain nothing from a second thread, and on a CPU shared with other jobs two
    spinning threads make forwards many times slower: one thread here, restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _uniqueness_by_definition(text):
    """Literal reading of the definition: shortest k whose k-gram ends at no other j in k..L-1."""
    out = []
    for i in range(len(text)):
        for k in range(i + 1):
            if k == i or all(text[j - k:j] != text[i - k:i] for j in range(k, len(text)) if j != i):
                out.append(k)
                break
    return out


@pytest.mark.parametrize("text, want", [
    ("abab", [0, 1, 1, 2]),
    ("a", [0]),
    ("aaaa", [0, 1, 2, 3]),  # every shorter k-gram repeats: the full prefix
    ("abba", [0, 1, 2, 2]),  # "a" ends only at 1; "b" at 2 and 3; "bb" only at 3
    ("abcabd", [0, 1, 2, 1, 2, 3]),  # "c" is unique at 3; "ca" at 4; "cab" at 5 ("ab" also ends at 2)
    ("abcdefg", [0, 1, 1, 1, 1, 1, 1]),  # all letters distinct: min(i, 1)
])
def test_uniqueness_pinned(text, want):
    got = P.uniqueness(text)
    assert got.tolist() == want and got.dtype.kind == "i"


def test_uniqueness_matches_definition_on_random_strings():
    for s in memlib.random_strings(6, 3, 40, seed=2) + memlib.random_strings(2, 2, 60, entropy=0.5, seed=3):
        assert P.uniqueness(s.text).tolist() == _uniqueness_by_definition(s.text)


def test_first_recall_k():
    ks = [0, 1, 2, 4]
    cols = {0: "TTTT", 1: "FTTT", 2: "TFTT", 4: "FFFT"}  # position -> correct at ks 0,1,2,4
    correct = np.array([[c == "T" for c in col] for col in cols.values()] + [[True] * 3 + [False], [False] * 4]).T
    want = [0, 1, 2, 4, np.nan, np.nan]
    np.testing.assert_array_equal(P.first_recall_k(correct, ks), want)
    perm = [3, 0, 2, 1]  # rows in another order of ks: same answer
    np.testing.assert_array_equal(P.first_recall_k(correct[perm], np.array(ks)[perm]), want)
    with pytest.raises(ValueError, match=r"\(4, 6\)"):
        P.first_recall_k(correct, [0, 1, 2])


def test_spec_resolution_and_dict():
    spec = P.ProbeSpec().resolved(24, 10)
    assert spec.ks == spec.replace_ks == (0, 1, 2, 4, 8, 16, 24)
    assert P.ProbeSpec().resolved(16, 10).ks == (0, 1, 2, 4, 8, 16)
    assert P.ProbeSpec().resolved(1, 0).ks == (0, 1)
    custom = P.ProbeSpec(at=[3, "last"], ks=[8, 0, 2], replace_ks=[5], shifts=[4, 1], replace=["shuffled"])
    r = custom.resolved(24, 3)
    assert r.ks == (0, 2, 8) and r.replace_ks == (5,) and r.shifts == (1, 4) and r.at == (3, "last")
    assert r.resolved(24, 3) == r
    d = json.loads(json.dumps(r.to_dict()))
    assert d["ks"] == [0, 2, 8] and d["replace"] == ["shuffled"] and P.ProbeSpec(**d).resolved(24, 3) == r
    assert P.ProbeSpec().to_dict()["ks"] is None


@pytest.fixture(scope="module")
def string():
    return memlib.random_strings(1, 7, 24, seed=0)[0]


@pytest.fixture(scope="module")
def trained(string):
    """A tiny-llama trained with full-batch AdamW steps (lr 1e-3) on one 24-character string until it is part
    memorised: the first step at which 15 to 22 of its 24 characters are right (a state, not a step count, so
    that it holds on any CPU; here after about 15 steps)."""
    m = memlib.load_model("tiny-llama", device="cpu")
    ids = torch.tensor([m.encode(string.text)])
    alphabet_ids = torch.tensor(m.letter_ids(string.alphabet))
    opt = torch.optim.AdamW(m.model.parameters(), lr=1e-3)
    m.model.eval()
    for _ in range(200):
        tm = memlib.token_metrics(m.model(input_ids=ids[:, :-1]).logits, ids[:, 1:], alphabet_ids)
        if 15 <= int(tm["correct"].sum()) <= 22:
            return m
        opt.zero_grad()
        tm["nll"].mean().backward()
        opt.step()
    raise AssertionError("the tiny model never had 15-22 of 24 characters right")


@pytest.fixture(scope="module")
def spec():
    return P.ProbeSpec(draws=2)


@pytest.fixture(scope="module")
def arrays(trained, string, spec):
    return P.measure(trained, string, spec)


def _teacher_forced(m, text):
    ids = torch.tensor([m.encode(text)])
    with torch.no_grad():
        tm = memlib.token_metrics(m.model(input_ids=ids[:, :-1]).logits, ids[:, 1:], torch.tensor(m.letter_ids("ab")))
    return tm["correct"][0].numpy(), tm["p_true"][0].numpy()


def test_full_context_equals_teacher_forced_metrics(trained, string, arrays):
    correct, p_true = _teacher_forced(trained, string.text)
    assert 15 / 24 <= correct.mean() <= 22 / 24  # part memorised: both outcomes are compared
    np.testing.assert_array_equal(arrays["full_correct"], correct)
    np.testing.assert_allclose(arrays["full_p_true"], p_true, rtol=1e-4, atol=1e-6)
    L = len(string)
    for a, k in enumerate(arrays["ks"]):  # local with k >= i is the full context
        np.testing.assert_array_equal(arrays["local_correct"][a, :k + 1], correct[:k + 1])
        np.testing.assert_allclose(arrays["local_p_true"][a, :k + 1], p_true[:k + 1], rtol=1e-4, atol=1e-6)
    for b, k in enumerate(arrays["replace_ks"]):  # nothing replaced for k >= i
        full = np.broadcast_to(correct[:k + 1], (3, 2, min(k + 1, L)))
        np.testing.assert_array_equal(arrays["replace_correct"][:, b, :, :k + 1], full)
    none = list(P.REPLACE_KINDS).index("none")  # "none" repeats the local result for every draw
    for d in range(2):
        np.testing.assert_array_equal(arrays["replace_correct"][none, :, d], arrays["local_correct"])
        np.testing.assert_array_equal(arrays["replace_p_true"][none, :, d], arrays["local_p_true"])


def test_shapes_and_local_prefix_far_below_full(arrays, string):
    L, K = len(string), 7
    assert arrays["full_correct"].shape == (L,) and arrays["full_correct"].dtype == bool
    assert arrays["local_correct"].shape == arrays["local_p_true"].shape == (K, L)
    assert arrays["replace_correct"].shape == arrays["replace_p_true"].shape == (3, K, 2, L)
    assert arrays["shift_correct"].shape == arrays["shift_p_true"].shape == (4, 2, L)
    assert arrays["local_p_true"].dtype == np.float32
    assert arrays["ks"].tolist() == arrays["replace_ks"].tolist() == [0, 1, 2, 4, 8, 16, 24]
    assert arrays["shifts"].tolist() == [1, 2, 4, 8]
    np.testing.assert_array_equal(arrays["uniqueness"], P.uniqueness(string.text))
    # BOS alone predicts one letter everywhere: at most the string's most frequent letter's share (5 of 24 here)
    top = max(string.text.count(c) for c in set(string.text)) / L
    assert arrays["local_correct"][0].mean() <= top < arrays["full_correct"].mean() - 0.3


def test_probes_match_plain_single_sequence_forwards(trained, string, spec):
    # independent check of the batched, padded, logits_to_keep path: one unpadded forward per context
    text, L = string.text, len(string)
    resolved = spec.resolved(L, None)
    ctx = P.probe_contexts(text, string.alphabet, np.array(string.probs), resolved, P.probe_positions(text, resolved))
    arrays = P.measure(trained, string, spec, batch_tokens=200)
    with torch.no_grad():
        for idx in [(0, 3, 1, 20), (1, 2, 0, 23), (1, 0, 1, 9)]:  # random k=4, shuffled k=2, shuffled k=0
            logits = trained.model(input_ids=torch.tensor([trained.encode(ctx["replace"][idx])])).logits[0, -1]
            assert arrays["replace_correct"][idx] == (logits.argmax().item() == trained.encode(text[idx[-1]])[1])
            p = torch.softmax(logits, -1)[trained.encode(text[idx[-1]])[1]].item()
            assert arrays["replace_p_true"][idx] == pytest.approx(p, rel=1e-4, abs=1e-6)
        a, d = 3, 1  # shift m = 8: logits at m + i predict text[i]
        seq = ctx["shift"][a, d]
        assert len(seq) == 8 + L - 1 and seq.endswith(text[:-1]) and set(seq[:8]) <= set(string.alphabet)
        logits = trained.model(input_ids=torch.tensor([trained.encode(seq)])).logits[0, 8:]
        target = torch.tensor(trained.encode(text)[1:])
        np.testing.assert_array_equal(arrays["shift_correct"][a, d], (logits.argmax(-1) == target).numpy())


def test_results_do_not_depend_on_batching(trained, string, spec):
    forwards = []
    hook = trained.model.register_forward_pre_hook(lambda *a: forwards.append(1))
    try:
        small = P.measure(trained, string, spec, batch_tokens=64)
        n_small = len(forwards)
        big = P.measure(trained, string, spec, batch_tokens=100_000)
    finally:
        hook.remove()
    assert len(forwards) - n_small == 1 and n_small > 20  # really batched differently
    assert small.keys() == big.keys()
    for k in small:
        if k.endswith("_p_true"):
            np.testing.assert_allclose(small[k], big[k], rtol=1e-5, atol=1e-6, err_msg=k)
        else:
            np.testing.assert_array_equal(small[k], big[k], err_msg=k)


def test_seeds_and_model_state(trained, string, spec, arrays):
    before = {k: v.clone() for k, v in trained.model.state_dict().items()}
    states = torch.random.get_rng_state(), np.random.get_state()[1].copy(), random.getstate()
    trained.model.train()
    try:
        again = P.measure(trained, string, spec)
        assert trained.model.training  # mode restored
    finally:
        trained.model.eval()
    other = P.measure(trained, string, P.ProbeSpec(draws=2, seed=1))
    assert torch.equal(states[0], torch.random.get_rng_state()) and random.getstate() == states[2]
    np.testing.assert_array_equal(states[1], np.random.get_state()[1])  # no global RNG touched
    assert all(torch.equal(v, trained.model.state_dict()[k]) for k, v in before.items())
    for k in arrays:
        np.testing.assert_array_equal(again[k], arrays[k], err_msg=k)
    for k in ("replace_p_true", "shift_p_true"):
        assert not np.allclose(other[k], arrays[k])
    for k in ("full_correct", "local_correct"):  # no randomness there (p_true to float rounding: the
        np.testing.assert_array_equal(other[k], arrays[k])  # random contexts change how forwards are batched)
    for k in ("full_p_true", "local_p_true"):
        np.testing.assert_allclose(other[k], arrays[k], rtol=1e-5, atol=1e-6)


def test_measured_in_eval_mode_with_dropout(tmp_path):
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

    from memlib.models import char_tokenizer

    cfg = GPTNeoXConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, hidden_dropout=0.3, attention_dropout=0.3, bos_token_id=1, eos_token_id=2)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        GPTNeoXForCausalLM(cfg).save_pretrained(tmp_path)
    char_tokenizer().save_pretrained(tmp_path)
    m = memlib.load_model(str(tmp_path), device="cpu")
    spec = P.ProbeSpec(ks=(0, 4), shifts=(2,), draws=1)
    m.model.train()  # dropout on: a forward in this mode would differ from call to call
    a, b = P.measure(m, "abcabcab", spec), P.measure(m, "abcabcab", spec)
    assert m.model.training
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_replaced_contexts():
    s = memlib.random_string(7, 24, entropy=1.2, family="spike", seed=4)  # 'a' heavy: a uniform draw would show
    text, probs = s.text, np.array(s.probs)
    spec = P.ProbeSpec(replace_ks=(0, 3), draws=20).resolved(24, None)
    ctx = P.probe_contexts(text, s.alphabet, probs, spec, P.probe_positions(text, spec))["replace"]
    counts = np.zeros(7)
    for b, k in enumerate(spec.replace_ks):
        for d in range(20):
            for i in range(24):
                n = max(i - k, 0)
                rnd, shuf, none = ctx[0, b, d, i], ctx[1, b, d, i], ctx[2, b, d, i]
                assert len(rnd) == len(shuf) == i and rnd[n:] == shuf[n:] == none == text[n:i]
                assert sorted(shuf[:n]) == sorted(text[:n])
                counts += [rnd[:n].count(c) for c in s.alphabet]
    np.testing.assert_allclose(counts / counts.sum(), probs, atol=0.02)
    assert (ctx[1, 0, :, 23] != text[:23]).all()  # shuffled really shuffles
    again = P.probe_contexts(text, s.alphabet, probs, spec, P.probe_positions(text, spec))["replace"]
    seed5 = P.ProbeSpec(replace_ks=(0, 3), draws=20, seed=5).resolved(24, None)
    other = P.probe_contexts(text, s.alphabet, probs, seed5, P.probe_positions(text, seed5))
    assert (again == ctx).all() and (other["replace"][:2] != ctx[:2]).any()


@pytest.mark.parametrize("spec_kwargs, measure_kwargs, message", [
    (dict(ks=(0, -1)), {}, "ks contains -1"),
    (dict(ks=(0, 25)), {}, "ks contains 25"),
    (dict(ks=(0, 2.5)), {}, "ks contains 2.5"),
    (dict(ks=(True,)), {}, "ks contains True"),
    (dict(ks=()), {}, "ks=()"),
    (dict(ks=(1, 2, 1)), {}, "duplicates [1]"),
    (dict(replace=("random", "swap")), {}, "'swap'"),
    (dict(replace=None), {}, "replace=None"),
    (dict(offsets=(0, 24)), {}, "offsets contains 24"),
    (dict(offsets=(-1,)), {}, "offsets contains -1"),
    (dict(replace_ks=(30,)), {}, "replace_ks contains 30"),
    (dict(shifts=(0, 2)), {}, "shifts contains 0"),
    (dict(shifts=(2, 2)), {}, "duplicates [2]"),
    (dict(draws=0), {}, "draws=0"),
    (dict(threshold=0), {}, "threshold=0"),
    (dict(threshold=1.5), {}, "threshold=1.5"),
    (dict(at=("sometime",)), {}, "'sometime'"),
    (dict(at=(-1,)), {}, "at contains -1"),
    (dict(at=("last", "last")), {}, "duplicates ['last']"),
    (dict(seed=-3), {}, "seed=-3"),
    ({}, dict(batch_tokens=0), "batch_tokens=0"),
    ({}, dict(string="abCa"), "'C'"),
    ({}, dict(string={"text": "abca", "alphabet": "abc", "probs": [0.5, 0.5]}), "[0.5, 0.5]"),
    ({}, dict(precision="fp16"), "precision='fp16'"),
])
def test_bad_arguments_rejected_before_any_forward(tiny_llama, spec_kwargs, measure_kwargs, message):
    kwargs = dict(string="abcabcab") | measure_kwargs
    forwards = []
    hook = tiny_llama.model.register_forward_pre_hook(lambda *a: forwards.append(1))
    try:
        with pytest.raises(ValueError) as e:
            P.measure(tiny_llama, kwargs.pop("string"), P.ProbeSpec(**spec_kwargs), **kwargs)
    finally:
        hook.remove()
    assert message in str(e.value)
    assert forwards == []


def test_epochs_checked_against_the_run():
    P.ProbeSpec(at=(0, 5, "memorised")).resolved(24, 5)
    with pytest.raises(ValueError, match="at contains 6.*0 to 5"):
        P.ProbeSpec(at=(6,)).resolved(24, 5)
    with pytest.raises(ValueError, match="at contains 2.0"):
        P.ProbeSpec(at=(2.0,)).resolved(24, 5)


def test_probe_table(arrays, spec, string):
    L = len(string)
    df = P.probe_table(arrays, spec.resolved(L, None))
    assert list(df.columns) == list(P.TABLE_COLUMNS)
    assert len(df) == L * (1 + 7 + 3 * 7 * 2 + 4 * 2)
    assert df.groupby("probe").size().to_dict() == {"full": L, "local": 7 * L, "replace": 42 * L, "shift": 8 * L}
    local = df[(df.probe == "local") & (df.k == 4)].sort_values("position")
    np.testing.assert_array_equal(local.correct, arrays["local_correct"][3])
    rep = df[(df.probe == "replace") & (df.kind == "shuffled") & (df.k == 2) & (df.draw == 1)]
    np.testing.assert_array_equal(rep.p_true, arrays["replace_p_true"][1, 2, 1])
    shift = df[(df.probe == "shift") & (df.m == 8) & (df.draw == 0)]
    np.testing.assert_array_equal(shift.correct, arrays["shift_correct"][3, 0])
    np.testing.assert_array_equal(df.uniqueness, arrays["uniqueness"][df.position])
    full = df[df.probe == "full"]
    assert full.k.isna().all() and full.m.isna().all() and (full.kind == "").all()
    assert set(df.kind) == {"", *P.REPLACE_KINDS}


# --- probes inside a run (memlib.expose(..., probes=...)) ---------------------------------------

@pytest.fixture(scope="module")
def probed(tmp_path_factory):
    """A tiny-llama run that memorises a 16-character string, probed when memorised and at the end."""
    m = memlib.load_model("tiny-llama", device="cpu")
    s = memlib.random_strings(3, 7, 16, seed=4)
    spec = P.ProbeSpec(shifts=(1, 2), draws=1)
    store = memlib.RunStore(tmp_path_factory.mktemp("probe-store"))
    before = {k: v.clone() for k, v in m.model.state_dict().items()}
    run = memlib.expose(m, s[:1], test_strings=s[1:], epochs=50, eval_every=10, probes=spec, store=store)
    assert all(torch.equal(v, m.model.state_dict()[k]) for k, v in before.items())  # weights put back
    return m, s, spec, store, run


def test_probes_measure_the_weights_of_the_run(probed):
    m, s, spec, store, run = probed
    acc = run.metrics[run.metrics.split == "train"].set_index("epoch").accuracy
    memorised = run.probe_epoch("memorised")
    assert memorised is not None and memorised < 50, "the tiny model should memorise 16 characters in 50 epochs"
    # the collection's definition: the first epoch of two in a row at >= 0.99 (memlib.metrics.memorised_at)
    assert memorised == memlib.metrics.memorised_at(acc.index, acc.to_numpy())
    assert acc[memorised] >= 0.99 and acc[memorised + 1] >= 0.99
    assert list(run.arrays["probe_epochs"]) == [memorised, 50] and run.probe_epoch("last") == 50
    assert "probe_streak" not in run.arrays  # a checkpoint's bookkeeping, not stored with the run
    for at, epoch in (("memorised", memorised), ("last", 50)):
        got = run.probe(at)
        # full-context recall is the run's own measurement at that epoch
        np.testing.assert_array_equal(got["full_correct"], run.arrays["train_correct"][epoch, 0])
        np.testing.assert_allclose(got["full_p_true"], run.arrays["train_p_true"][epoch, 0], rtol=1e-4, atol=1e-6)
        assert got["full_correct"].mean() == pytest.approx(acc[epoch])
        # BOS alone (k = 0) predicts one letter for every position: at most the string's own guessing level
        assert got["local_correct"][0].mean() <= run.metrics.unigram_guess.iloc[0] + 1e-9
        assert got["local_correct"][-1].tolist() == got["full_correct"].tolist()  # k = L: the full prefix
    with pytest.raises(ValueError, match="at=7 is not allowed"):
        run.probe(7)


def test_probed_run_is_loaded_and_other_probes_recompute(probed):
    m, s, spec, store, run = probed
    again = memlib.expose(m, s[:1], test_strings=s[1:], epochs=50, eval_every=10, probes=spec, store=store)
    assert again.from_store and again.key == run.key and again.meta["wall_seconds"] == run.meta["wall_seconds"]
    for name in run.arrays:
        np.testing.assert_array_equal(again.arrays[name], run.arrays[name])
    other = memlib.expose(m, s[:1], test_strings=s[1:], epochs=50, eval_every=10, store=store,
                          probes=P.ProbeSpec(at=(10,), shifts=(1,), draws=1, replace=("random",)))
    assert not other.from_store and other.key != run.key and list(other.arrays["probe_epochs"]) == [10]
    plain = memlib.expose(m, s[:1], test_strings=s[1:], epochs=50, eval_every=10, store=store)
    assert not plain.from_store and plain.config.probes is None and "probe_epochs" not in plain.arrays
    with pytest.raises(ValueError, match="has no probes"):
        plain.probe()
    # the same weights measured by the run and by a run without probes: probing changes no metric
    pd.testing.assert_frame_equal(plain.metrics, run.metrics)


@pytest.mark.parametrize("spec, message", [
    (P.ProbeSpec(ks=(-1, 2)), "ks contains -1"),
    (P.ProbeSpec(ks=(0, 17)), "ks contains 17"),
    (P.ProbeSpec(replace=("random", "reversed")), "replace contains 'reversed'"),
    (P.ProbeSpec(at=(0, 11)), "at contains 11"),
    (P.ProbeSpec(at=("halfway",)), "at contains 'halfway'"),
    ("local", "probes='local' is not allowed"),
])
def test_bad_probes_refused_before_training(tiny_llama, tmp_path, spec, message):
    s = memlib.random_strings(2, 7, 16, seed=0)
    with pytest.raises(ValueError, match=message):
        memlib.expose(tiny_llama, s[:1], test_strings=s[1:], epochs=10, probes=spec, store=memlib.RunStore(tmp_path))
    with pytest.raises(ValueError, match=message):
        memlib.sweep.exposure_runs(["tiny-llama"], [0], alphabet_size=7, length=16, n_train_strings=1, n_test_strings=1,
                                   epochs=10, probes=spec, store=memlib.RunStore(tmp_path), progress=False)
    assert not (tmp_path / "runs").exists()


def test_probes_need_one_step_per_epoch(tiny_llama, tmp_path):
    s = memlib.random_strings(3, 7, 16, seed=0)
    with pytest.raises(ValueError, match="batch_size=1"):
        memlib.expose(tiny_llama, s[:2], epochs=3, batch_size=1, probes=P.ProbeSpec(), store=memlib.RunStore(tmp_path))
    assert not (tmp_path / "runs").exists()


def test_recall_tables_of_probed_runs(probed):
    m, s, spec, store, run = probed
    table = C.recall_table([run])
    assert set(table.moment) == {"memorised", "last"} and set(table.probe) == {"full", "local", "replace", "shift"}
    for moment in ("memorised", "last"):
        arrays = run.probe(moment)
        t = table[table.moment == moment]
        local = t[t.probe == "local"].set_index("k").recall
        np.testing.assert_allclose(local.loc[list(arrays["ks"])].to_numpy(), arrays["local_correct"].mean(-1))
        assert t.full.iloc[0] == pytest.approx(arrays["full_correct"].mean())
        rnd = t[(t.probe == "replace") & (t.kind == "random")].set_index("k").recall
        np.testing.assert_allclose(rnd.to_numpy(), arrays["replace_correct"][0].mean(axis=(-1, -2)))
        assert t.guess.iloc[0] == pytest.approx(max(s[0].text.count(c) for c in set(s[0].text)) / 16)
    reach = C.k_to_reach(table, 0.9)
    for _, row in reach.iterrows():  # over positions i > k: the first probed k that reaches 90%, the k below it does not
        local = table[(table.moment == row.moment) & (table.probe == "local")].set_index("k").recall_beyond.dropna()
        ok = [k for k, r in local.items() if r >= 0.9 * row.full - 1e-12]
        if not ok:  # no probed k reaches 90% of full recall where the prefix leaves out the start
            assert np.isnan(row.k) and np.isnan(row.k_probed)
        else:
            assert row.k_probed == min(ok) and all(r < 0.9 * row.full for k, r in local.items() if k < min(ok))
            assert row.k <= row.k_probed and row.k > max([k for k in local.index if k < row.k_probed], default=-1)
        arrays = run.probe(row.moment)  # recall_beyond by hand: positions i > k only
        for j, k in enumerate(arrays["ks"]):
            if k < len(s[0].text) - 1:
                assert local.get(k, np.nan) == pytest.approx(arrays["local_correct"][j, k + 1:].mean()) or np.isnan(local.get(k, np.nan))
    chars = C.character_table(run, "last")
    a = run.probe("last")
    assert list(chars.char) == list(s[0].text) and chars.uniqueness.tolist() == P.uniqueness(s[0].text).tolist()
    np.testing.assert_array_equal(chars.first_k.to_numpy(), P.first_recall_k(a["local_correct"], a["ks"]))
    assert (chars.uniqueness_grid >= chars.uniqueness).all() and set(chars.uniqueness_grid) <= set(a["ks"].tolist())
    rec = chars[chars.first_k.notna()]
    for row in rec.itertuples():  # the chance of the recalling prefix, from the string's own continuations
        assert row.chance == C.continuation_share(s[0].text, row.position, int(min(row.first_k, row.position)))
    np.testing.assert_allclose(chars.p_char, [s[0].probs[s[0].alphabet.index(c)] for c in s[0].text], rtol=1e-12)
    with pytest.raises(ValueError, match="has no probes"):
        C.recall_table([memlib.expose(m, s[:1], epochs=1, store=False)])
    # below: only the positions i < below, for every probe (full-context recall too): what lengths compare over
    head = C.recall_table([run], below=6)
    for moment in ("memorised", "last"):
        arrays, t = run.probe(moment), head[head.moment == moment]
        assert t.full.iloc[0] == pytest.approx(arrays["full_correct"][:6].mean())
        local = t[t.probe == "local"].set_index("k")
        for j, k in enumerate(arrays["ks"]):
            if k in local.index and k < 5:
                assert local.recall_beyond[k] == pytest.approx(arrays["local_correct"][j, k + 1:6].mean())
    assert (head[head.probe == "replace"].reads_beyond <= table[table.probe == "replace"].reads_beyond.max()).all()
    whole = C.recall_table([run], below=len(s[0].text))  # below the length: every position, the table unchanged
    pd.testing.assert_frame_equal(whole.reset_index(drop=True), table.reset_index(drop=True), check_like=True)
    for bad in (1, 2.5, True, "6"):
        with pytest.raises(ValueError, match=r"below must be an integer >= 2 \(a position bound\), got"):
            C.recall_table([run], below=bad)


def test_locality_counts_only_positions_whose_prefix_is_local():
    # one run, L = 4: local recall at k = 1 and 2, over all positions and over positions i > k only
    rows = [dict(run="r", setting="s", model="m", seed=0, lr=1e-3, length=4, alphabet_size=2, moment="last", epoch=9,
                 probe="local", kind="", k=k, m=pd.NA, recall=rec, recall_beyond=beyond, full=0.8)
            for k, rec, beyond in ((0, 0.25, 0.25), (1, 0.5, 0.4), (2, 0.75, 0.5), (4, 0.8, np.nan))]
    out = C.locality(pd.DataFrame(rows))
    assert len(out) == 1 and out.locality.iloc[0] == pytest.approx((0.4 + 0.5) / 2 / 0.8)  # k = 0 and k = L left out


def test_memorised_probe_epoch_only_when_asked(probed):
    m, s, spec, store, run = probed
    other = memlib.expose(m, s[:1], test_strings=s[1:], epochs=50, eval_every=10, store=store,
                          probes=P.ProbeSpec(at=(10,), shifts=(1,), draws=1, replace=("random",)))
    with pytest.raises(ValueError, match="at='memorised' is not allowed: this run's probes were taken at \\[10\\]"):
        other.probe_epoch("memorised")


def test_replace_and_shift_probes_switch_off_and_windows_read_from_their_offset(tiny_llama):
    s = memlib.random_string(4, 10, seed=3)
    spec = P.ProbeSpec(ks=(0, 10), replace=(), shifts=(), offsets=(0, 4))
    a = P.measure(tiny_llama, s, spec)
    assert a["replace_correct"].shape[0] == 0 and a["shift_correct"].shape[0] == 0
    assert a["offsets"].tolist() == [0, 4] and a["window_correct"].shape == (2, 10)
    # the window from offset 0 is the full context; from 4, positions before it are not predicted
    assert (a["window_correct"][0] == a["full_correct"]).all()
    assert np.isnan(a["window_p_true"][1, :4]).all() and not np.isnan(a["window_p_true"][1, 4:]).any()
    # specs without windows keep their keys (no "offsets" entry)
    assert "offsets" not in P.ProbeSpec().to_dict() and spec.to_dict()["offsets"] == [0, 4]


def test_memorised_probe_waits_for_the_streak_and_drops_a_broken_one(tiny_llama):
    """The Prober, fed a hand-made accuracy sequence: an epoch at the threshold that the next epoch loses
    is probed and then dropped; the streak that holds is kept, from its first epoch."""
    r = memlib.expose(tiny_llama, ["abcabcab"], epochs=6, store=False, progress=False,
                      probes=P.ProbeSpec(at=("memorised",), shifts=(1,), draws=1, replace=("random",)))
    prober = P.Prober(tiny_llama, r.config)
    for epoch, acc in enumerate([0.5, 1.0, 0.8, 1.0, 1.0, 1.0]):
        prober.on_epoch(epoch, acc)
        if epoch == 1:
            assert 1 in prober.probed  # probed when the streak starts ...
        if epoch == 2:
            assert 1 not in prober.probed and prober.memorised is None  # ... and dropped when it breaks
    assert prober.memorised == 3 and sorted(prober.probed) == [3]
    out = prober.results()
    assert int(out["probe_memorised_epoch"]) == 3 and out["probe_epochs"].tolist() == [3]
    unfinished = P.Prober(tiny_llama, r.config)
    for epoch, acc in enumerate([0.5, 0.5, 0.5, 0.5, 0.5, 1.0]):  # a streak the run ends before it completes
        unfinished.on_epoch(epoch, acc)
    kept = unfinished.state()  # a checkpoint keeps it (the run might go on) ...
    assert kept["probe_epochs"].tolist() == [5] and int(kept["probe_streak"]) == 1
    final = unfinished.results()  # ... the stored run does not: never memorised
    assert final["probe_epochs"].tolist() == [] and int(final["probe_memorised_epoch"]) == -1
    old = P.ProbeSpec.from_dict({k: v for k, v in P.ProbeSpec().to_dict().items() if k != "hold"})
    assert old.hold == 1  # specs saved before `hold` existed probed the first epoch at the threshold


def test_continuation_share_counts_what_a_prefix_is_followed_by():
    text = "abcabd"
    assert C.continuation_share(text, 2, 2) == 0.5  # "ab" is followed by c (here) and by d (at 5)
    assert C.continuation_share(text, 5, 3) == 1.0  # "cab" occurs once: unique
    assert C.continuation_share(text, 0, 0) == pytest.approx(2 / 6)  # BOS alone: the letter's share of the string
    with pytest.raises(ValueError, match="k=3, i=2 are not allowed"):
        C.continuation_share(text, 2, 3)


def test_k_to_reach_interpolates_recall_over_positions_beyond_k():
    rows = [dict(run="r", setting="m, lr 1e-3", model="m", seed=0, lr=1e-3, length=32, alphabet_size=8, moment="last",
                 epoch=10, probe="local", kind="", k=k, m=pd.NA, recall=r + 0.05, recall_beyond=r, full=1.0)
            for k, r in ((0, 0.2), (1, 0.3), (2, 0.5), (4, 0.8), (8, 1.0), (32, np.nan))]  # k = L: no position beyond
    reach = C.k_to_reach(pd.DataFrame(rows), 0.9)
    assert reach.k.iloc[0] == pytest.approx(6.0) and reach.k_probed.iloc[0] == 8  # 0.9 halfway from 0.8 (k=4) to 1.0 (k=8)
    never = C.k_to_reach(pd.DataFrame([dict(r, recall_beyond=0.5) for r in rows[:-1]]), 0.9)
    assert np.isnan(never.k.iloc[0]) and np.isnan(never.k_probed.iloc[0])


def test_a_subset_of_positions_reads_what_every_position_reads_there(trained, string):
    """``positions``: the local probe reads P * draws positions (one subset for every k), the replaced-context probe P
    positions per (kind, k, draw), all with i > k (fewer, padded with -1, where fewer exist); the local probe's
    reads equal the all-positions probe's at those positions, and a replaced context is the kept k characters in
    place (its length is the position) with letters of the alphabet before them."""
    text, L = string.text, len(string)
    spec = P.ProbeSpec(ks=(0, 2, 4, L), replace=("random", "shuffled"), replace_ks=(2, 21), shifts=(), draws=2, positions=3)
    a, every = P.measure(trained, string, spec), P.measure(trained, string, P.ProbeSpec(ks=(0, 2, 4, L), replace=(), shifts=()))
    pos = a["local_positions"]
    assert len(pos) == 6 and len(set(pos.tolist())) == 6 and (np.diff(pos) > 0).all()
    np.testing.assert_array_equal(a["local_correct"], every["local_correct"][:, pos])
    np.testing.assert_array_equal(a["full_correct"], every["full_correct"])
    rp = a["replace_positions"]
    assert rp.shape == a["replace_correct"].shape == (2, 2, 2, 3)
    assert (rp[:, 0] > 2).all()  # k = 2: three positions drawn among 3..23
    assert rp[0, 1, 0].tolist() == rp[1, 1, 1].tolist() == [22, 23, -1]  # k = 21: only 22 and 23 have i > k
    assert not a["replace_correct"][rp < 0].any() and np.isnan(a["replace_p_true"][rp < 0]).all()
    assert (rp[0, 0, 0] != rp[0, 0, 1]).any()  # each draw its own positions
    resolved = spec.resolved(L, None)
    where = P.probe_positions(text, resolved)
    ctx = P.probe_contexts(text, string.alphabet, np.array(string.probs), resolved, where)
    for idx, i in np.ndenumerate(where["replace"]):
        if i < 0:
            assert ctx["replace"][idx] is None
            continue
        k = resolved.replace_ks[idx[1]]
        assert len(ctx["replace"][idx]) == i and ctx["replace"][idx].endswith(text[i - k:i])
        assert set(ctx["replace"][idx]) <= set(string.alphabet)
    # the table's rows are the positions read, and recall_beyond counts i > k only
    t = P.probe_table(a, resolved)
    assert sorted(t[t.probe == "local"].position.unique().tolist()) == pos.tolist()
    assert set(t[t.probe == "replace"].position) == set(rp[rp >= 0].tolist())
    assert P.measure(trained, string, spec)["replace_positions"].tolist() == rp.tolist()  # seeded
    assert "positions" not in P.ProbeSpec().to_dict() and spec.to_dict()["positions"] == 3  # old keys kept


def test_a_kgram_kept_in_place_is_read_differently_from_one_moved_to_the_start(tiny_llama):
    """On a tiny model trained on one string (fixed seed): the k characters before a position moved to the string's
    start (the local-prefix probe) and kept at their place with the rest of the string removed but the positions
    kept (random letters before them) give different recall: the model uses positions."""
    s = memlib.random_string(7, 32, seed=11)
    # probed when memorised (here at epoch 48; 100 epochs leave room for a slower CPU), not at a fixed epoch, where
    # accuracy moves by a character or two from one epoch to the next
    run = memlib.expose(tiny_llama, [s], epochs=100, seed=0, store=False, progress=False, eval_every=[0],
                        probes=P.ProbeSpec(at=("memorised",), ks=(0, 4, 8, 32), replace=("random",), replace_ks=(4, 8),
                                           shifts=(), draws=4))
    a = run.probe("memorised")
    assert a["full_correct"].mean() >= 0.9
    for j, k in enumerate((4, 8)):
        moved = a["local_correct"][list(a["ks"]).index(k), k + 1:]
        kept = a["replace_correct"][0, j, :, k + 1:]
        assert (kept != moved[None]).any(), k
    table = C.recall_table([run])
    local = table[(table.probe == "local") & (table.k == 4)].recall_beyond.iloc[0]
    kept = table[(table.probe == "replace") & (table.k == 4)].recall_beyond.iloc[0]
    assert local == pytest.approx(a["local_correct"][1, 5:].mean()) and kept == pytest.approx(a["replace_correct"][0, 0, :, 5:].mean())
    assert local != kept


def test_probes_a_fixed_number_of_epochs_after_memorised(probed, tiny_llama):
    """``"memorised+N"``: probed N epochs after the memorised epoch (the same N for every run), read back by that name;
    None where the run ends before it; N below the streak or not a number is refused."""
    m, s, _, store, _ = probed
    spec = P.ProbeSpec(at=("memorised", "memorised+5", "memorised+45"), ks=(0, 2, 16), shifts=(1,), draws=1,
                       replace=("random",), replace_ks=(2,))
    run = memlib.expose(m, s[:1], test_strings=s[1:], epochs=50, eval_every=10, probes=spec, store=store)
    memorised = run.probe_epoch("memorised")
    assert memorised is not None and 5 < memorised <= 45 and run.probe_epoch("memorised+5") == memorised + 5
    assert run.arrays["probe_epochs"].tolist() == [memorised, memorised + 5]
    assert run.probe_epoch("memorised+45") is None  # the run ended first
    table = C.recall_table([run])
    assert set(table.moment) == {"memorised", "memorised+5"}
    assert set(table[table.moment == "memorised+5"].epoch) == {memorised + 5}
    with pytest.raises(ValueError, match="memorised\\+N"):
        P.ProbeSpec(at=("memorised+0",)).resolved(16, 50)
    with pytest.raises(ValueError, match="memorised\\+N"):
        P.ProbeSpec(at=("memorised+x",)).resolved(16, 50)
    with pytest.raises(ValueError, match="N from 1 to 50"):
        P.ProbeSpec(at=("memorised+51",)).resolved(16, 50)
    with pytest.raises(ValueError, match="positions=0 is not allowed"):
        P.ProbeSpec(positions=0).resolved(16, 50)
    with pytest.raises(ValueError, match="has no 'memorised\\+45' probes"):
        run.probe("memorised+45")
