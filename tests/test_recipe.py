"""The training recipe beyond a constant rate: batches shuffled every epoch, a linear warm-up, cosine decay."""
import math

import numpy as np
import pytest

import memlib
from memlib.loop import lr_factor


def test_the_learning_rate_warms_up_then_decays_as_asked():
    constant, linear, cosine = (lr_factor(s, 100, 0.1) for s in ("constant", "linear", "cosine"))
    for f in (constant, linear, cosine):  # ten steps of warm-up: 0.1, 0.2, ... 1.0
        assert [f(s) for s in range(10)] == pytest.approx([(s + 1) / 10 for s in range(10)])
        assert f(10) == 1.0
    assert constant(99) == 1.0 and linear(55) == pytest.approx(0.5) and cosine(55) == pytest.approx(0.5)
    assert linear(99) == pytest.approx(1 / 90) and cosine(99) == pytest.approx(0.5 * (1 + math.cos(math.pi * 89 / 90)))
    # without warm-up, linear decay is the one runs had before (the same floats: their keys and results stay)
    old = lr_factor("linear", 37)
    assert all(old(s) == 1.0 - s / 37 for s in range(37)) and lr_factor("constant", 37)(5) == 1.0


def test_shuffled_batches_change_the_order_each_epoch_and_keep_each_string_its_own_rows(tiny_llama):
    s = memlib.random_strings(8, 7, 12, seed=3)
    kw = dict(test_strings=s[6:], epochs=6, batch_size=2, lr=3e-3, store=False, progress=False)
    fixed = memlib.expose(tiny_llama, s[:6], **kw)
    mixed = memlib.expose(tiny_llama, s[:6], shuffle=True, **kw)
    assert "shuffle" not in fixed.config.to_dict() and mixed.config.to_dict()["shuffle"] is True
    assert fixed.key != mixed.key
    assert not np.array_equal(fixed.arrays["train_p_true"], mixed.arrays["train_p_true"])
    again = memlib.expose(tiny_llama, s[:6], shuffle=True, **kw)  # the order comes from the run's seed
    np.testing.assert_array_equal(again.arrays["train_p_true"], mixed.arrays["train_p_true"])
    # at a rate too small to move the weights, each string's training-pass row equals its own no-grad measurement:
    # the rows follow the strings, not the batches' order
    still = memlib.expose(tiny_llama, s[:6], shuffle=True, **{**kw, "lr": 1e-12})
    train = still.metrics[still.metrics.split == "train"].pivot(index="epoch", columns="string", values="loss")
    for e in range(1, 6):
        np.testing.assert_allclose(train.loc[e].to_numpy(), train.loc[6].to_numpy(), rtol=1e-5)
    assert train.loc[6].std() > 0.01  # the strings' losses differ: a mix-up would show


def test_a_bad_warm_up_or_shuffle_is_refused_before_training(tiny_llama, no_training):
    s = memlib.random_strings(2, 5, 8, seed=0)
    with pytest.raises(ValueError, match=r"warmup=0.7 is not allowed: use the share of the optimiser steps warmed up, "
                                         r"from 0 to 0.5"):
        memlib.expose(tiny_llama, s[:1], epochs=3, warmup=0.7, store=False)
    with pytest.raises(ValueError, match=r"shuffle='yes' is not allowed: use True or False"):
        memlib.expose(tiny_llama, s[:1], epochs=3, shuffle="yes", store=False)
    with pytest.raises(ValueError, match=r"lr_schedule='cos' is not allowed: use one of constant, linear, cosine"):
        memlib.expose(tiny_llama, s[:1], epochs=3, lr_schedule="cos", store=False)
