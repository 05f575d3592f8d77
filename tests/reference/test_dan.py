"""Cross-checks of reference.dan against PyTorch in float64.

The average of a bag of embeddings against ``torch.nn.EmbeddingBag(mode="mean")``
fed with the real tokens only (offsets per sequence), then ``nn.Linear`` layers
with ``relu`` or ``tanh``. Padded positions hold ids outside the vocabulary, so
an oracle that read them would fail loudly.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from reference.dan import average_embeddings, dan_forward
from tests.reference.conftest import assert_close, to_numpy, to_torch


@st.composite
def dans(draw):
    batch, steps = draw(st.integers(1, 4)), draw(st.integers(1, 6))
    return {
        "seed": draw(st.integers(0, 2**32 - 1)),
        "batch": batch,
        "steps": steps,
        "lengths": np.array(draw(st.lists(st.integers(1, steps), min_size=batch, max_size=batch))),
        "vocab": draw(st.integers(1, 8)),
        "dim": draw(st.integers(1, 4)),
        "hidden": draw(st.lists(st.integers(1, 5), max_size=3)),
        "classes": draw(st.integers(1, 4)),
        "nonlinearity": draw(st.sampled_from(["relu", "tanh"])),
    }


def random_linear(rng: np.random.Generator, inputs: int, outputs: int) -> torch.nn.Linear:
    layer = torch.nn.Linear(inputs, outputs).double()
    with torch.no_grad():
        layer.weight.copy_(to_torch(rng.normal(size=(outputs, inputs))))
        layer.bias.copy_(to_torch(rng.normal(size=outputs)))
    return layer


@given(config=dans())
def test_dan_matches_torch_embedding_bag_mean_and_linear_layers(config):
    rng = np.random.default_rng(config["seed"])
    V, d, lengths = config["vocab"], config["dim"], config["lengths"]
    embedding = rng.normal(size=(V, d))
    ids = rng.integers(0, V, size=(config["batch"], config["steps"]))
    ids = np.where(np.arange(config["steps"])[None, :] < lengths[:, None], ids, V + 7)  # padding: not even a word id
    sizes = [d, *config["hidden"]]
    hidden = [random_linear(rng, a, b) for a, b in zip(sizes, sizes[1:])]
    output = random_linear(rng, sizes[-1], config["classes"])

    bag = torch.nn.EmbeddingBag.from_pretrained(to_torch(embedding), mode="mean")
    flat = torch.as_tensor(np.concatenate([row[:n] for row, n in zip(ids, lengths)]))
    offsets = torch.as_tensor(np.concatenate([[0], np.cumsum(lengths)[:-1]]))
    g = torch.relu if config["nonlinearity"] == "relu" else torch.tanh
    with torch.no_grad():
        z = bag(flat, offsets)
        average = z.clone()
        for layer in hidden:
            z = g(layer(z))
        expected = output(z)

    assert_close(average_embeddings(ids, lengths, embedding), average, what="average")
    layers = [(to_numpy(layer.weight), to_numpy(layer.bias)) for layer in hidden]
    got = dan_forward(ids, lengths, embedding, layers, to_numpy(output.weight), to_numpy(output.bias),
                      nonlinearity=config["nonlinearity"])
    assert_close(got, expected, what="logits")


def test_average_divides_by_each_true_length_by_hand():
    embedding = np.array([[1.0, 0.0], [0.0, 2.0], [4.0, 4.0]])
    ids = np.array([[0, 1, 2], [2, 0, 0]])  # the second text is one word; its padding repeats id 0
    np.testing.assert_allclose(average_embeddings(ids, [3, 1], embedding), [[5 / 3, 2.0], [4.0, 4.0]])


def test_dan_rejects_bad_input_with_a_clear_message(rng):
    embedding, ids = rng.normal(size=(5, 3)), np.array([[0, 1], [2, 9]])
    output = (rng.normal(size=(2, 3)), rng.normal(size=2))
    dan_forward(ids, [2, 1], embedding, [], *output)  # id 9 is padding here: never read
    with pytest.raises(ValueError, match=r"token_ids\[1, 1\] = 9 is outside the vocabulary 0..4"):
        dan_forward(ids, [2, 2], embedding, [], *output)
    with pytest.raises(ValueError, match=r"lengths\[1\] = 3 is out of range; every length must be in 1..T = 1..2"):
        average_embeddings(ids, [2, 3], embedding)
    with pytest.raises(ValueError, match=r"the weight of hidden layer 1 has shape \(4, 2\); expected \(4, 3\)"):
        dan_forward(ids, [2, 1], embedding, [(rng.normal(size=(4, 2)), rng.normal(size=4))], *output)
    with pytest.raises(ValueError, match=r"the bias of hidden layer 1 has shape \(3,\); expected \(4,\)"):
        dan_forward(ids, [2, 1], embedding, [(rng.normal(size=(4, 3)), rng.normal(size=3))], *output)
    with pytest.raises(ValueError, match=r"output_weight has shape \(2, 4\); expected \(C, 3\)"):
        dan_forward(ids, [2, 1], embedding, [], rng.normal(size=(2, 4)), rng.normal(size=2))
    with pytest.raises(ValueError, match=r"unknown nonlinearity 'sigmoid'"):
        dan_forward(ids, [2, 1], embedding, [], *output, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match=r"token_ids has shape \(2,\); expected \(B, T\)"):
        average_embeddings(np.array([0, 1]), [1, 1], embedding)
