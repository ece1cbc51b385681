"""Memorised bits (memlib.capacity): hand cases, and a real tiny model that learns a few strings."""
import math

import pytest

import memlib
from memlib import capacity, sweep


def test_memorised_bits_on_hand_cases():
    # a model that predicts exactly the distribution codes each string in its self-information: 0 bits memorised
    assert capacity.memorised([20.0, 31.5], [20.0, 31.5]).tolist() == [0.0, 0.0]
    # one that predicts every character with probability 1 codes it in 0 bits: all of it memorised
    assert capacity.memorised([20.0], [0.0]).tolist() == [20.0]
    # clipped at 0 per string: coding one string worse does not cancel what is held about another
    m = capacity.memorised([20.0, 20.0], [5.0, 60.0])
    assert m.tolist() == [15.0, 0.0] and m.sum() == 15.0
    for bad, message in (((-1.0, 0.0), "self_information"), ((math.inf, 0.0), "self_information"),
                         ((1.0, -0.5), "code_length")):
        with pytest.raises(ValueError, match=message):
            capacity.memorised([bad[0]], [bad[1]])


def test_memorised_bits_grow_with_training_and_never_exceed_the_information(tiny_llama):
    train, test = sweep.split_strings(0, alphabet_size=4, length=12, n_train=4, n_test=2)
    run = memlib.expose(tiny_llama, train, test_strings=test, epochs=60, lr=3e-3, eval_every=[0, 60], store=False,
                        progress=False)
    bits = capacity.string_bits([run])
    assert (bits.self_information == 24.0).all()  # 12 letters, uniform over 4: 2 bits each
    # the code length is the run's loss in bits: L * loss / ln 2
    first = run.metrics[(run.metrics.split == "train") & (run.metrics.epoch == 0)].loss.iloc[0]
    assert bits.code_length.iloc[0] == pytest.approx(12 * first / math.log(2))
    per_epoch = capacity.bits_by_epoch(bits)
    assert (per_epoch.memorised <= per_epoch.information + 1e-9).all() and (per_epoch.information == 96.0).all()
    start, end = per_epoch.memorised.iloc[0], per_epoch.memorised.iloc[-1]
    assert start == 0.0 and per_epoch.clipped.iloc[0] == 4  # random weights code every string worse than uniform
    assert end > 0.5 * 96.0  # most of the 96 bits held after 60 epochs on 4 strings
    held_out = capacity.bits_by_epoch(capacity.string_bits([run], split="test"))
    assert held_out.memorised.iloc[-1] < end / 4  # strings never trained on: little or nothing
    with pytest.raises(ValueError, match="split='dev' is not allowed"):
        capacity.string_bits([run], split="dev")
