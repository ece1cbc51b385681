"""Extraction, exposure, membership inference and onsets (memlib.privacy), on real tiny models."""
import math

import numpy as np
import pytest
import torch

import memlib
from memlib import privacy, probes, sweep


def _memorise(model, text, steps=300, lr=3e-3):
    """Train ``model`` in place on one string until every character is recalled (plain AdamW loop)."""
    ids = torch.tensor([model.encode(text)])
    opt = torch.optim.AdamW(model.model.parameters(), lr=lr)
    model.model.train(False)
    for _ in range(steps):
        logits = model.model(input_ids=ids[:, :-1]).logits
        if (logits.argmax(-1) == ids[:, 1:]).all():
            return
        loss = torch.nn.functional.cross_entropy(logits[0], ids[0, 1:])
        opt.zero_grad()
        loss.backward()
        opt.step()
    raise AssertionError("the tiny model did not memorise the string")


@pytest.fixture(scope="module")
def trained():
    """A tiny Llama of its own (the session fixture stays untouched) that memorised one string."""
    torch.manual_seed(0)
    model = memlib.load_model("tiny-llama", device="cpu")
    s = memlib.random_string(4, 12, seed=7)
    _memorise(model, s.text)
    return model, s


def test_greedy_generation_from_bos_reproduces_a_memorised_string_and_not_an_untrained_one(trained, tiny_llama):
    model, s = trained
    assert privacy.greedy_generate(model, "", len(s)) == s.text
    fresh = privacy.greedy_generate(tiny_llama, "", len(s))
    lead = next((i for i, (a, b) in enumerate(zip(fresh, s.text)) if a != b), len(s))
    assert lead <= 1, fresh


def test_window_probes_predict_what_greedy_generation_reproduces_from_every_prompt(trained):
    model, s = trained
    L = len(s)
    arrays = probes.measure(model, s, privacy.extraction_spec(L, at=[0]))
    assert arrays["offsets"].tolist() == list(range(L))
    lengths = privacy.extracted_lengths(arrays["window_correct"], arrays["offsets"])
    assert lengths[0, 0] == L  # memorised: everything from BOS
    for o in range(L):
        for k in range(L - o):
            prompt, rest = s.text[o:o + k], s.text[o + k:]
            out = privacy.greedy_generate(model, prompt, len(rest))
            reproduced = next((i for i, (a, b) in enumerate(zip(out, rest)) if a != b), len(rest))
            assert reproduced == lengths[o, o + k], (o, k, out, rest)


def test_extraction_table_reads_runs_and_agrees_with_the_runs_arrays(tiny_llama, tmp_path):
    train, test = sweep.split_strings(0, alphabet_size=4, length=12, n_train=1, n_test=21)
    at = [0, 10, 30]
    run = memlib.expose(tiny_llama, train, test_strings=test, epochs=30, lr=3e-3, eval_every=at,
                        probes=privacy.extraction_spec(12, at), store=tmp_path, progress=False)
    x = privacy.extraction_table([run], k=3, n=3)
    assert x.epoch.tolist() == list(range(31))
    lead = run.arrays["train_correct"][:, 0, :]
    for row in x.itertuples():  # from BOS = correct positions before the first error
        c = lead[row.epoch]
        assert row.from_bos == (c.argmin() if not c.all() else 12)
    probed = x[x.k_extractable.notna()]
    assert probed.epoch.tolist() == at
    assert probed.k_extractable.iloc[0] == 0.0  # the untrained model extracts nothing
    with pytest.raises(ValueError, match="k=10 and n=3 are not allowed for strings of 12 characters"):
        privacy.extraction_table([run], k=10, n=3)


def test_exposure_of_a_memorised_string_is_far_above_held_out_strings_which_average_about_1_44_bits(tiny_llama):
    train, test = sweep.split_strings(3, alphabet_size=4, length=12, n_train=1, n_test=60)
    run = memlib.expose(tiny_llama, train, test_strings=test, epochs=40, lr=3e-3, eval_every=[0, 40], store=False,
                        progress=False)
    t = privacy.exposure_table([run])
    end = t[t.epoch == 40]
    member, held = end[end.member].iloc[0], end[~end.member]
    assert member["count"] == 0 and member.method.startswith("extrapolated")
    assert member.exposure > held.exposure.max() + 5
    assert member.exposure <= member.max_bits == pytest.approx(24.0)  # 12 characters, 2 bits each
    assert abs(t[~t.member].exposure.mean() - 1 / math.log(2)) < 0.25
    with pytest.raises(ValueError, match="too few for the distribution fit"):
        privacy.exposure(1.0, np.arange(5.0))


def test_counted_exposure_and_the_fit_in_the_bulk():
    cands = np.arange(1.0, 64.0)  # 63 candidates
    e = privacy.exposure(10.0, cands)
    assert e["count"] == 10 and e["counted"] == pytest.approx(-math.log2(11 / 64)) and e["method"] == "counted"
    # the skew-normal with alpha 0 is the normal: its log CDF is log Phi, also far in the tail
    for z in (-1.0, -5.0, -20.0):
        want = math.log(0.5 * math.erfc(-z / math.sqrt(2)))
        assert privacy._skewnorm_logcdf(z, 0.0, 1.0, 0.0) == pytest.approx(want, rel=1e-4)


def test_membership_attack_auc_and_tpr_by_hand():
    import pandas as pd

    class R:  # a stored run is config + metrics; build one by hand
        key = "k" * 64

    r = R()
    r.config = {"model": "m", "lr": 1e-3, "seed": 0, "train": [{"text": "ab", "alphabet": "ab", "entropy": 1.0}]}
    rows = [{"model": "m", "epoch": 1, "split": "train", "string": 0, "loss": 0.5}]
    rows += [{"model": "m", "epoch": 1, "split": "test", "string": j, "loss": v} for j, v in enumerate([0.4, 1.0, 2.0, 3.0])]
    r.metrics = pd.DataFrame(rows)
    t = privacy.membership_table([r])
    assert t.auc.iloc[0] == pytest.approx(3 / 4)  # below 3 of the 4 held-out losses
    assert t.tpr_at_fpr.iloc[0] == 0.0  # flagging none of 4 held-out strings (1%) flags nothing below 0.4


def test_onsets_match_the_stored_per_position_arrays(tiny_llama):
    train, test = sweep.split_strings(1, alphabet_size=4, length=12, n_train=1, n_test=1)
    run = memlib.expose(tiny_llama, train, test_strings=test, epochs=40, lr=3e-3, store=False, progress=False)
    o = privacy.onset_table([run])
    c, epochs = run.arrays["train_correct"][:, 0, :], run.arrays["train_epochs"].tolist()
    for row in o.itertuples():
        col = c[:, row.position]
        if row.censored:
            assert not col[-1]
        else:
            t = epochs.index(row.onset)
            assert col[t:].all() and (t == 0 or not col[t - 1])
    summary = privacy.onset_summary(o)
    assert summary.characters.iloc[0] == 12


def test_notebook_arguments_are_refused_before_any_training():
    ok = dict(epochs=10, measure_at=[0, 10], length=32, k=8, n=8, n_test_strings=31)
    privacy.specs(["tiny-llama"], **ok)
    for bad, message in (({"k": 30, "n": 8}, "k=30 and n=8 are not allowed for strings of 32 characters"),
                         ({"n": 0}, "n=0 is not allowed"),
                         ({"n_test_strings": 10}, "n_test_strings=10 is not allowed: exposure needs at least 21"),
                         ({"measure_at": [0, 12]}, "measure_at for tiny-llama: at contains 12"),
                         ({"measure_at": {"other": [0]}}, "no value for model 'tiny-llama'")):
        with pytest.raises(ValueError, match=message):
            privacy.specs(["tiny-llama"], **{**ok, **bad})
