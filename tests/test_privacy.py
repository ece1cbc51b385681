"""Extraction, exposure, membership inference and onsets (memlib.privacy), on real tiny models."""
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from scipy.special import log_ndtr

import memlib
from memlib import exposure as ex, extraction, membership, privacy, probes, sweep


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
    assert extraction.greedy_generate(model, "", len(s)) == s.text
    fresh = extraction.greedy_generate(tiny_llama, "", len(s))
    lead = next((i for i, (a, b) in enumerate(zip(fresh, s.text)) if a != b), len(s))
    assert lead <= 1, fresh


def test_window_probes_predict_what_greedy_generation_reproduces_from_every_prompt(trained):
    model, s = trained
    L = len(s)
    arrays = probes.measure(model, s, extraction.extraction_spec(L, at=[0]))
    assert arrays["offsets"].tolist() == list(range(L))
    lengths = extraction.extracted_lengths(arrays["window_correct"], arrays["offsets"])
    assert lengths[0, 0] == L  # memorised: everything from BOS
    for o in range(L):
        for k in range(L - o):
            prompt, rest = s.text[o:o + k], s.text[o + k:]
            out = extraction.greedy_generate(model, prompt, len(rest))
            reproduced = next((i for i, (a, b) in enumerate(zip(out, rest)) if a != b), len(rest))
            assert reproduced == lengths[o, o + k], (o, k, out, rest)


def test_extraction_table_reads_runs_and_agrees_with_the_runs_arrays(tiny_llama, tmp_path):
    train, test = sweep.split_strings(0, alphabet_size=4, length=12, n_train=1, n_test=21)
    at = [0, 10, 30]
    run = memlib.expose(tiny_llama, train, test_strings=test, epochs=30, lr=3e-3, eval_every=at,
                        probes=extraction.extraction_spec(12, at), store=tmp_path, progress=False)
    x = extraction.extraction_table([run], k=3, n=3)
    assert x.epoch.tolist() == list(range(31))
    lead = run.arrays["train_correct"][:, 0, :]
    for row in x.itertuples():  # from BOS = correct positions before the first error
        c = lead[row.epoch]
        assert row.from_bos == (c.argmin() if not c.all() else 12)
    probed = x[x.k_extractable.notna()]
    assert probed.epoch.tolist() == at
    assert probed.k_extractable.iloc[0] == 0.0  # the untrained model extracts nothing
    with pytest.raises(ValueError, match="k=10 and n=3 are not allowed for strings of 12 characters"):
        extraction.extraction_table([run], k=10, n=3)


def test_exposure_of_a_memorised_string_is_far_above_held_out_strings_which_average_about_1_44_bits(tiny_llama):
    train, test = sweep.split_strings(3, alphabet_size=4, length=12, n_train=1, n_test=60)
    run = memlib.expose(tiny_llama, train, test_strings=test, epochs=40, lr=3e-3, eval_every=[0, 40], store=False,
                        progress=False)
    t = ex.exposure_table([run])
    end = t[t.epoch == 40]
    member, held = end[end.member].iloc[0], end[~end.member]
    assert member["count"] == 0 and member.method.startswith("extrapolated")
    assert member.exposure > held.exposure.max() + 5
    assert member.exposure <= member.max_bits == pytest.approx(24.0)  # 12 characters, 2 bits each
    # each held-out string is ranked among 60 (itself and 59 others): the counted part of the estimator is exact
    assert abs(t[~t.member].counted.mean() - ex.expected_counted_exposure(60)) < 0.15
    assert abs(t[~t.member].exposure.mean() - 1 / math.log(2)) < 0.25
    with pytest.raises(ValueError, match="too few for the distribution fit"):
        ex.exposure(1.0, np.arange(5.0))


def test_counted_exposure_and_the_fit_in_the_bulk():
    cands = np.arange(1.0, 64.0)  # 63 candidates
    e = ex.exposure(10.0, cands)
    assert e["count"] == 10 and e["counted"] == pytest.approx(-math.log2(11 / 64)) and e["method"] == "counted"
    # the skew-normal with alpha 0 is the normal: its log CDF is log Phi, also far in the tail
    for z in (-1.0, -5.0, -20.0):
        want = math.log(0.5 * math.erfc(-z / math.sqrt(2)))
        assert ex.skewnorm_logcdf(z, 0.0, 1.0, 0.0) == pytest.approx(want, rel=1e-4)


def test_membership_attack_auc_and_tpr_by_hand():
    import pandas as pd

    class R:  # a stored run is config + metrics; build one by hand
        key = "k" * 64

    r = R()
    r.config = SimpleNamespace(model="m", lr=1e-3, seed=0, train=({"text": "ab", "alphabet": "ab", "entropy": 1.0},))
    rows = [{"model": "m", "epoch": 1, "split": "train", "string": 0, "loss": 0.5}]
    rows += [{"model": "m", "epoch": 1, "split": "test", "string": j, "loss": v} for j, v in enumerate([0.4, 1.0, 2.0, 3.0])]
    r.metrics = pd.DataFrame(rows)
    t = membership.membership_table([r])
    assert t.auc.iloc[0] == pytest.approx(3 / 4)  # below 3 of the 4 held-out losses
    # 1% of 4 held-out strings allows no false positive: not measurable, never a TPR at zero false positives
    assert math.isnan(t.tpr_at_fpr.iloc[0]) and not t.measurable.iloc[0] and t.needed.iloc[0] == 100


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
                         ({"measure_at": {"other": [0]}}, "no value for model 'tiny-llama'"),
                         ({"measure_at": [0, 5]}, r"include the run's last epoch \(10\)")):
        with pytest.raises(ValueError, match=message):
            privacy.specs(["tiny-llama"], **{**ok, **bad})


@pytest.fixture(scope="module")
def partly():
    """A tiny Llama of its own trained a few steps on a string: some prompts extract, some do not."""
    torch.manual_seed(1)
    model = memlib.load_model("tiny-llama", device="cpu")
    s = memlib.random_string(4, 14, seed=11)
    ids = torch.tensor([model.encode(s.text)])
    opt = torch.optim.AdamW(model.model.parameters(), lr=3e-3)
    for _ in range(25):
        loss = torch.nn.functional.cross_entropy(model.model(input_ids=ids[:, :-1]).logits[0], ids[0, 1:])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model, s


def _hand_run(model, s, spec):
    """A stored-run-shaped Run of one moment (epoch 0) of ``model`` as it is, built from the probes."""
    import pandas as pd

    a = probes.measure(model, s, spec)
    arrays = {"train_epochs": np.array([0]), "train_correct": a["full_correct"][None, None, :],
              "probe_epochs": np.array([0]), **{f"probe_e0_s0_{k}": v for k, v in a.items()}}
    metrics = pd.DataFrame([{"model": "tiny-llama", "seed": 0, "epoch": 0, "split": "train", "string": 0,
                             "accuracy": float(a["full_correct"].mean())}])
    config = {"model": "tiny-llama", "lr": 3e-3, "seed": 0, "epochs": 0, "train": [s.to_dict()], "test": [],
              "probes": spec.to_dict(), "model_fingerprint": model.fingerprint, "weights_dtype": "float32",
              "autocast": None, "lr_schedule": "constant", "weight_decay": 0.0, "max_grad_norm": None, "dropout": False,
              "batch_size": 1, "eval_every": "auto", "memlib_version": memlib.__version__, "run_format": 0}
    return memlib.Run(config=config, metrics=metrics, arrays=arrays)


@pytest.mark.parametrize("k, n, step", [(2, 3, 1), (3, 2, 2), (0, 4, 3)])
def test_prefix_extraction_and_k_extractable_rate_match_greedy_decoding(partly, k, n, step):
    model, s = partly
    L = len(s)
    run = _hand_run(model, s, extraction.extraction_spec(L, at=[0], offset_step=step))
    row = extraction.extraction_table([run], k=k, n=n).iloc[0]
    lengths = []
    for o in range(0, L - k, step):
        rest = s.text[o + k:]
        out = extraction.greedy_generate(model, s.text[o:o + k], len(rest))
        lengths.append(next((i for i, (a, b) in enumerate(zip(out, rest)) if a != b), len(rest)))
    offsets = list(range(0, L - k, step))
    assert row.prefix_mean == pytest.approx(np.mean(lengths))
    eligible = [m for o, m in zip(offsets, lengths) if o <= L - k - n]
    assert row.k_extractable == pytest.approx(np.mean([m >= n for m in eligible]))
    assert 0 < np.mean(lengths) < L - k  # partly memorised: the check is not all-or-nothing


@pytest.mark.parametrize("k, n", [(0, 4), (2, 3), (5, 4)])
def test_extraction_at_standard_sizes_matches_greedy_decoding(partly, k, n):
    model, s = partly
    L = len(s)
    run = _hand_run(model, s, extraction.extraction_spec(L, at=[0]))
    row = extraction.extraction_sizes([run], ks=[k], n=n).iloc[0]
    offsets = [0] if k == 0 else list(range(0, L - k - n + 1))
    got = []
    for o in offsets:  # real greedy decoding of n characters after the true prompt text[o:o+k]
        out = extraction.greedy_generate(model, s.text[o:o + k], n)
        got.append(next((i for i, (a, b) in enumerate(zip(out, s.text[o + k:o + k + n])) if a != b), n))
    assert row.prompts == len(offsets)
    assert row.k_extractable == pytest.approx(np.mean([g >= n for g in got]))
    assert row.suffix_share == pytest.approx(np.mean(got) / n)
    with pytest.raises(ValueError, match="ks is empty"):
        extraction.extraction_sizes([run], ks=[], n=n)
    with pytest.raises(ValueError, match="are not allowed for strings of 14 characters"):
        extraction.extraction_sizes([run], ks=[12], n=n)


def test_skew_normal_fit_and_tail():
    # alpha = 1: the CDF is exactly Phi(z)^2, into the far tail
    for z in (-0.5, -3.0, -12.0, -40.0):
        assert ex.skewnorm_logcdf(z, 0.0, 1.0, 1.0) == pytest.approx(2 * float(log_ndtr(np.array([z]))[0]),
                                                                           rel=1e-5)
    # a steep tail (alpha at the fit's clip) against a very fine grid
    t = np.linspace(-2.4, -1.9, 2_000_001)
    lf = math.log(2) - t ** 2 / 2 - 0.5 * math.log(2 * math.pi) + log_ndtr(27.7 * t)
    w = np.exp(lf - lf.max())
    fine = lf.max() + math.log(((w[1:] + w[:-1]) / 2).sum() * (t[1] - t[0]))
    assert ex.skewnorm_logcdf(-1.9, 0.0, 1.0, 27.7) == pytest.approx(fine, rel=1e-6)
    # maximum likelihood: a large sample of a known skew-normal gives back its parameters
    rng = np.random.default_rng(0)
    xi, omega, alpha = 2.0, 0.5, 3.0
    delta = alpha / math.sqrt(1 + alpha ** 2)
    u0, u1 = rng.standard_normal((2, 20_000))
    x = xi + omega * (delta * np.abs(u0) + math.sqrt(1 - delta ** 2) * u1)
    fit = ex.skewnorm_fit(x)
    assert fit[0] == pytest.approx(xi, abs=0.03) and fit[1] == pytest.approx(omega, abs=0.03)
    assert fit[2] == pytest.approx(alpha, rel=0.2)
    # a fit at the half-normal limit (alpha -> inf, as maximum likelihood gives for some samples): a finite log CDF
    # below its location, falling as alpha^2 (the leading term f(z) / r of a tail too steep for a grid)
    steep = [ex.skewnorm_logcdf(2.6, 3.7, 1.6, a) for a in (1e4, 1e5, 1e8)]
    assert all(math.isfinite(v) and v < 0 for v in steep) and steep[0] > steep[1] > steep[2]
    assert steep[1] / steep[0] == pytest.approx(100, rel=0.05)
    with pytest.raises(ValueError, match="do not vary"):  # more likely than every candidate: the fit is needed
        ex.exposure(0.5, np.ones(30))
    assert ex.exposure(1.0, np.ones(30))["method"] == "counted"  # counted: no fit


def test_expected_exposures():
    assert ex.expected_counted_exposure(31) == pytest.approx(1.32, abs=0.005)
    assert ex.expected_counted_exposure(10 ** 6) == pytest.approx(1 / math.log(2), abs=0.001)
    ranks = np.arange(1, 32)  # the exact value, by enumerating the uniform rank
    assert ex.expected_counted_exposure(31) == pytest.approx(np.mean(-np.log2(ranks / 31)))


def test_membership_threshold_allows_the_false_positives_fpr_grants_and_ties_count_half():
    import pandas as pd

    class R:
        key = "r" * 64

    def table(member_loss, fpr=0.01):
        r = R()
        r.config = SimpleNamespace(model="m", lr=1e-3, seed=0, train=({"text": "ab", "alphabet": "ab", "entropy": 1.0},))
        rows = [{"model": "m", "epoch": 1, "split": "train", "string": 0, "loss": member_loss}]
        rows += [{"model": "m", "epoch": 1, "split": "test", "string": j, "loss": float(j + 1)} for j in range(200)]
        r.metrics = pd.DataFrame(rows)
        return membership.membership_table([r], fpr=fpr).iloc[0]

    t = table(2.5)  # below 198 of 200 held-out losses; 1% of 200 allows the 2 lowest (1 and 2) to be flagged
    assert t.tpr_at_fpr == 1.0 and t.fpr_reached == pytest.approx(0.01) and t.auc == pytest.approx(198 / 200)
    assert table(3.0).tpr_at_fpr == 0.0  # at the third-lowest: flagging it would flag a third held-out string
    assert table(3.0).auc == pytest.approx((197 + 0.5) / 200)  # one tie counts half
    with pytest.raises(ValueError, match="fpr=0.0 is not allowed"):
        table(2.5, fpr=0.0)
    with pytest.raises(ValueError, match="fpr=1.5 is not allowed"):
        table(1.0, fpr=1.5)


def test_onset_summary_counts_never_stable_characters_as_latest():
    import pandas as pd

    o = pd.DataFrame({"setting": "s", "run": "r", "position": [0, 1, 2, 3], "p_char": [0.1, 0.2, 0.3, 0.4],
                      "uniqueness": [0, 1, 1, 2], "onset": [np.nan, 3.0, 2.0, 1.0], "censored": [True, False, False, False]})
    row = privacy.onset_summary(o).iloc[0]
    assert row.censored == 0.25 and row.median_onset == 2.5
    assert row.rho_position == pytest.approx(-1.0) and row.rho_p_char == pytest.approx(-1.0)


def test_holds_from_is_the_epoch_a_mark_is_kept_to_the_end():
    assert privacy.holds_from([0, 2, 4, 8], [True, False, True, True]) == 4
    assert privacy.holds_from([0, 2, 4, 8], [True, True, True, True]) == 0
    assert np.isnan(privacy.holds_from([0, 2, 4, 8], [True, True, True, False]))
