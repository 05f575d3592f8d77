"""Cross-checks of reference.ffnn against PyTorch in float64.

The window builder against ``F.pad`` + ``Tensor.unfold``; the forward pass
against ``nn.Embedding``, ``nn.Linear`` and ``tanh``/``relu``; the loss and
its gradients against ``F.cross_entropy`` and autograd; the two ops (window
embeddings, cross-entropy from logits) against ``F.embedding`` and
``F.cross_entropy`` with an upstream gradient; SGD against ``torch.optim.SGD``.
Weights are random normal draws, so a transposed matrix or a reversed context
shows.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from reference.ffnn import (PARAMETER_NAMES, cross_entropy_and_grad, ffnn_lm_forward, ffnn_lm_loss_and_grads,
                            ffnn_lm_sgd, sliding_windows, window_embeddings)
from tests.reference.conftest import assert_close, to_numpy, to_torch


@st.composite
def models(draw):
    return {
        "seed": draw(st.integers(0, 2**32 - 1)),
        "batch": draw(st.integers(1, 5)),
        "window": draw(st.integers(1, 4)),     # n - 1 context words
        "vocab": draw(st.integers(1, 7)),
        "dim": draw(st.integers(1, 4)),
        "hidden": draw(st.integers(1, 5)),
        "nonlinearity": draw(st.sampled_from(["tanh", "relu"])),
    }


def random_model(config: dict):
    """Random weights (numpy, torch layout), contexts and targets, and the torch modules holding the weights."""
    rng = np.random.default_rng(config["seed"])
    V, d, H, k = config["vocab"], config["dim"], config["hidden"], config["window"]
    embedding = torch.nn.Embedding(V, d).double()
    hidden = torch.nn.Linear(k * d, H).double()
    output = torch.nn.Linear(H, V).double()
    weights = {"embedding": rng.normal(size=(V, d)), "hidden_weight": rng.normal(size=(H, k * d)),
               "hidden_bias": rng.normal(size=H), "output_weight": rng.normal(size=(V, H)), "output_bias": rng.normal(size=V)}
    with torch.no_grad():
        embedding.weight.copy_(to_torch(weights["embedding"]))
        hidden.weight.copy_(to_torch(weights["hidden_weight"]))
        hidden.bias.copy_(to_torch(weights["hidden_bias"]))
        output.weight.copy_(to_torch(weights["output_weight"]))
        output.bias.copy_(to_torch(weights["output_bias"]))
    contexts = rng.integers(0, V, size=(config["batch"], k))
    targets = rng.integers(0, V, size=config["batch"])
    return weights, contexts, targets, (embedding, hidden, output)


def torch_logits(modules, contexts: np.ndarray, nonlinearity: str) -> torch.Tensor:
    embedding, hidden, output = modules
    e = embedding(torch.as_tensor(contexts)).reshape(len(contexts), -1)  # oldest word's embedding first
    g = torch.tanh if nonlinearity == "tanh" else torch.relu
    return output(g(hidden(e)))


# ---------------------------------------------------------------------------- windows


@given(tokens=st.lists(st.integers(0, 50), min_size=1, max_size=12), n=st.integers(2, 6), bos=st.integers(-3, 60))
def test_sliding_windows_match_torch_pad_and_unfold(tokens, n, bos):
    contexts, targets = sliding_windows(np.array(tokens, dtype=np.int64), n, bos)
    padded = F.pad(torch.tensor(tokens, dtype=torch.int64), (n - 1, 0), value=bos)
    windows = padded.unfold(0, n, 1)  # (N, n): the n - 1 context words, then the target
    assert contexts.dtype == np.int64 and targets.dtype == np.int64
    np.testing.assert_array_equal(contexts, to_numpy(windows[:, :-1]).reshape(len(tokens), n - 1))
    np.testing.assert_array_equal(targets, to_numpy(windows[:, -1]))


def test_sliding_windows_of_a_trigram_model_by_hand():
    contexts, targets = sliding_windows([5, 6, 7, 8], n=3, bos=1)
    np.testing.assert_array_equal(contexts, [[1, 1], [1, 5], [5, 6], [6, 7]])
    np.testing.assert_array_equal(targets, [5, 6, 7, 8])


def test_sliding_windows_of_a_sequence_shorter_than_the_window():
    contexts, targets = sliding_windows([9], n=4, bos=0)
    np.testing.assert_array_equal(contexts, [[0, 0, 0]])
    np.testing.assert_array_equal(targets, [9])
    contexts, targets = sliding_windows(np.array([], dtype=np.int64), n=3, bos=0)
    assert contexts.shape == (0, 2) and targets.shape == (0,)


def test_sliding_windows_reject_bad_input():
    with pytest.raises(ValueError, match=r"n is the window size including the target and must be at least 2, got 1"):
        sliding_windows([1, 2], n=1, bos=0)
    with pytest.raises(ValueError, match=r"token_ids must hold integer token ids, got dtype float64"):
        sliding_windows([1.5, 2.0], n=2, bos=0)
    with pytest.raises(ValueError, match=r"token_ids has shape \(1, 2\); expected 1 axis"):
        sliding_windows([[1, 2]], n=2, bos=0)
    with pytest.raises(ValueError, match=r"bos must be an integer, got True"):
        sliding_windows([1, 2], n=2, bos=True)


# ---------------------------------------------------------------------------- forward and gradients


@given(config=models())
def test_forward_matches_torch_embedding_and_linear_layers(config):
    weights, contexts, _, modules = random_model(config)
    with torch.no_grad():
        expected = torch_logits(modules, contexts, config["nonlinearity"])
    assert_close(ffnn_lm_forward(contexts, **weights, nonlinearity=config["nonlinearity"]), expected, what="logits")


@given(config=models())
def test_loss_and_gradients_match_torch_autograd(config):
    weights, contexts, targets, modules = random_model(config)
    loss = F.cross_entropy(torch_logits(modules, contexts, config["nonlinearity"]), torch.as_tensor(targets))
    loss.backward()
    embedding, hidden, output = modules
    expected = {"embedding": embedding.weight.grad, "hidden_weight": hidden.weight.grad, "hidden_bias": hidden.bias.grad,
                "output_weight": output.weight.grad, "output_bias": output.bias.grad}
    got_loss, grads = ffnn_lm_loss_and_grads(contexts, targets, **weights, nonlinearity=config["nonlinearity"])
    assert isinstance(got_loss, float)
    assert_close(got_loss, loss, what="loss")
    assert tuple(grads) == PARAMETER_NAMES
    for name in PARAMETER_NAMES:
        assert_close(grads[name], expected[name], what=f"gradient of {name}")


def test_context_order_matters_and_the_oldest_word_comes_first(rng):
    # With W reading only the first d features, the logits depend on the oldest context word alone.
    V, d, H = 5, 2, 3
    weights = {"embedding": rng.normal(size=(V, d)), "hidden_weight": np.concatenate([rng.normal(size=(H, d)),
                                                                                      np.zeros((H, 2 * d))], axis=1),
               "hidden_bias": rng.normal(size=H), "output_weight": rng.normal(size=(V, H)), "output_bias": rng.normal(size=V)}
    logits = ffnn_lm_forward(np.array([[1, 2, 3], [1, 4, 0], [3, 2, 1]]), **weights)
    assert_close(logits[0], logits[1], what="same oldest word")
    assert not np.allclose(logits[0], logits[2])


def test_repeated_context_words_accumulate_embedding_gradients(rng):
    V, d, H = 4, 3, 2
    config = {"seed": 7, "batch": 3, "window": 3, "vocab": V, "dim": d, "hidden": H, "nonlinearity": "tanh"}
    weights, _, _, modules = random_model(config)
    contexts, targets = np.array([[2, 2, 2], [2, 0, 2], [1, 2, 3]]), np.array([0, 3, 2])
    F.cross_entropy(torch_logits(modules, contexts, "tanh"), torch.as_tensor(targets)).backward()
    _, grads = ffnn_lm_loss_and_grads(contexts, targets, **weights)
    assert_close(grads["embedding"], modules[0].weight.grad, what="embedding gradient with repeats")


def test_forward_rejects_bad_input_with_a_clear_message(rng):
    weights = {"embedding": rng.normal(size=(6, 2)), "hidden_weight": rng.normal(size=(3, 4)),
               "hidden_bias": rng.normal(size=3), "output_weight": rng.normal(size=(6, 3)), "output_bias": rng.normal(size=6)}
    contexts = np.array([[0, 5], [1, 2]])
    with pytest.raises(ValueError, match=r"unknown nonlinearity 'sigmoid'; expected one of tanh, relu"):
        ffnn_lm_forward(contexts, **weights, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match=r"contexts\[0, 1\] = 6 is outside the vocabulary 0..5"):
        ffnn_lm_forward(np.array([[0, 6], [1, 2]]), **weights)
    with pytest.raises(ValueError, match=r"hidden_weight has shape \(3, 4\); expected \(H, \(n-1\) d\) with \(n-1\) d = 3 \* 2 = 6"):
        ffnn_lm_forward(np.array([[0, 1, 2]]), **weights)
    with pytest.raises(ValueError, match=r"contexts must hold integer token ids"):
        ffnn_lm_forward(contexts.astype(float), **weights)
    with pytest.raises(ValueError, match=r"output_weight has shape \(6, 2\); expected \(V, H\) with H = 3"):
        ffnn_lm_forward(contexts, **{**weights, "output_weight": rng.normal(size=(6, 2))})
    with pytest.raises(ValueError, match=r"hidden_bias has shape \(4,\); expected \(3,\)"):
        ffnn_lm_forward(contexts, **{**weights, "hidden_bias": rng.normal(size=4)})
    with pytest.raises(ValueError, match=r"targets\[1\] = 6 is outside the vocabulary 0..5"):
        ffnn_lm_loss_and_grads(contexts, np.array([0, 6]), **weights)
    with pytest.raises(ValueError, match=r"targets has shape \(3,\); expected \(B,\) = \(2,\)"):
        ffnn_lm_loss_and_grads(contexts, np.array([0, 1, 2]), **weights)


# ---------------------------------------------------------------------------- the ops and SGD


@given(config=models())
def test_window_embeddings_match_torch_embedding_and_its_gradient(config):
    weights, contexts, _, _ = random_model(config)
    rng = np.random.default_rng(config["seed"] + 1)
    grad_output = rng.normal(size=(config["batch"], config["window"] * config["dim"]))
    table = to_torch(weights["embedding"], requires_grad=True)
    e = F.embedding(torch.as_tensor(contexts), table).reshape(len(contexts), -1)
    e.backward(to_torch(grad_output))
    got_e, got_grad = window_embeddings(weights["embedding"], contexts, grad_output)
    assert_close(got_e, e, what="concatenated embeddings")
    assert_close(got_grad, table.grad, what="embedding gradient")


def test_window_embeddings_add_up_the_gradient_of_a_repeated_word():
    embedding = np.arange(8.0).reshape(4, 2)
    contexts = np.array([[3, 3], [1, 3]])
    grad_output = np.array([[1.0, 2.0, 10.0, 20.0], [100.0, 200.0, 1000.0, 2000.0]])
    e, grad = window_embeddings(embedding, contexts, grad_output)
    np.testing.assert_array_equal(e, [[6, 7, 6, 7], [2, 3, 6, 7]])
    np.testing.assert_array_equal(grad, [[0, 0], [100, 200], [0, 0], [1011, 2022]])


@given(seed=st.integers(0, 2**32 - 1), batch=st.integers(1, 5), vocab=st.integers(1, 6),
       scale=st.sampled_from([1.0, 3.0, 1000.0]), grad_output=st.floats(-3.0, 3.0))
def test_cross_entropy_and_grad_match_torch_for_logits_of_any_size(seed, batch, vocab, scale, grad_output):
    rng = np.random.default_rng(seed)
    logits, targets = scale * rng.normal(size=(batch, vocab)), rng.integers(0, vocab, size=batch)
    z = to_torch(logits, requires_grad=True)
    loss = F.cross_entropy(z, torch.as_tensor(targets))
    loss.backward(torch.tensor(grad_output, dtype=torch.float64))
    got_loss, got_grad = cross_entropy_and_grad(logits, targets, grad_output)
    assert isinstance(got_loss, float)
    assert_close(got_loss, loss, what="loss")
    assert_close(got_grad, z.grad, what="gradient of the logits")


def test_cross_entropy_and_grad_reject_bad_input():
    with pytest.raises(ValueError, match=r"logits has shape \(3,\); expected \(B, V\)"):
        cross_entropy_and_grad(np.zeros(3), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"targets\[0\] = 3 is outside the vocabulary 0..2"):
        cross_entropy_and_grad(np.zeros((1, 3)), np.array([3]))
    with pytest.raises(ValueError, match="logits must be finite"):
        cross_entropy_and_grad(np.array([[np.inf, 0.0]]), np.array([0]))
    with pytest.raises(ValueError, match=r"grad_output has shape \(2,\); expected \(\)"):
        cross_entropy_and_grad(np.zeros((2, 3)), np.array([0, 1]), np.ones(2))


@given(config=models(), lr=st.sampled_from([0.1, 0.5]))
def test_sgd_matches_torch_sgd_step_by_step(config, lr):
    weights, _, _, (embedding, hidden, output) = random_model(config)
    rng = np.random.default_rng(config["seed"] + 2)
    batches = [(rng.integers(0, config["vocab"], size=(config["batch"], config["window"])),
                rng.integers(0, config["vocab"], size=config["batch"])) for _ in range(3)]
    modules = (embedding, hidden, output)
    parameters = {"embedding": embedding.weight, "hidden_weight": hidden.weight, "hidden_bias": hidden.bias,
                  "output_weight": output.weight, "output_bias": output.bias}
    optimizer = torch.optim.SGD(list(parameters.values()), lr=lr)
    steps = ffnn_lm_sgd(batches, **weights, lr=lr, nonlinearity=config["nonlinearity"])
    assert len(steps) == len(batches)
    for (contexts, targets), (got_loss, got_weights) in zip(batches, steps):
        optimizer.zero_grad()
        loss = F.cross_entropy(torch_logits(modules, contexts, config["nonlinearity"]), torch.as_tensor(targets))
        loss.backward()
        optimizer.step()
        assert_close(got_loss, loss, what="loss before the step")
        assert tuple(got_weights) == PARAMETER_NAMES
        for name in PARAMETER_NAMES:
            assert_close(got_weights[name], parameters[name], what=f"{name} after the step")


def test_sgd_rejects_bad_input(rng):
    weights = {"embedding": rng.normal(size=(4, 2)), "hidden_weight": rng.normal(size=(3, 2)),
               "hidden_bias": rng.normal(size=3), "output_weight": rng.normal(size=(4, 3)), "output_bias": rng.normal(size=4)}
    with pytest.raises(ValueError, match="lr must be a positive number, got 0"):
        ffnn_lm_sgd([(np.array([[1]]), np.array([2]))], **weights, lr=0)
    with pytest.raises(ValueError, match="batches is empty"):
        ffnn_lm_sgd([], **weights, lr=0.1)
