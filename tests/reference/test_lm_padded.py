"""The padded-batch oracles of reference.lm (lm_batch, masked_cross_entropy, corpus_perplexity) against PyTorch."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from reference.lm import corpus_perplexity, lm_batch, masked_cross_entropy
from tests.reference.conftest import assert_close


def _padded(rng, batch: int, steps: int, vocab: int, scale: float = 2.0):
    """Logits, targets with arbitrary ids at padding, unsorted lengths (the longest is ``steps``)."""
    lengths = rng.integers(1, steps + 1, size=batch)
    lengths[rng.integers(batch)] = steps
    return rng.normal(scale=scale, size=(batch, steps, vocab)), rng.integers(0, vocab, size=(batch, steps)), lengths


def _torch_loss(logits, targets, lengths):
    """cross_entropy with ignore_index at padding, and autograd's gradient w.r.t. the logits."""
    z = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
    mask = torch.arange(targets.shape[1])[None, :] < torch.tensor(lengths)[:, None]
    masked = torch.tensor(targets).masked_fill(~mask, -100)
    loss = F.cross_entropy(z.transpose(1, 2), masked, ignore_index=-100)
    loss.backward()
    return loss.item(), z.grad.numpy()


def test_lm_batch_matches_torch_padding():
    sentences = [[5, 7, 9], [4], [8, 6]]
    inputs, targets, lengths = lm_batch(sentences, bos=1, eos=2, pad=0)
    pad = torch.nn.utils.rnn.pad_sequence
    assert np.array_equal(inputs, pad([torch.tensor([1] + s) for s in sentences], batch_first=True).numpy())
    assert np.array_equal(targets, pad([torch.tensor(s + [2]) for s in sentences], batch_first=True).numpy())
    assert lengths.tolist() == [4, 2, 3] and inputs.dtype == targets.dtype == lengths.dtype == np.int64


def test_lm_batch_pads_with_the_given_id():
    inputs, targets, _ = lm_batch([[3], [3, 4, 5]], bos=0, eos=6, pad=9)
    assert inputs.tolist() == [[0, 3, 9, 9], [0, 3, 4, 5]]
    assert targets.tolist() == [[3, 6, 9, 9], [3, 4, 5, 6]]


@pytest.mark.parametrize("batch, steps, vocab", [(4, 6, 9), (1, 3, 2), (3, 1, 5)])
def test_masked_cross_entropy_and_gradient_match_torch(batch, steps, vocab, rng):
    logits, targets, lengths = _padded(rng, batch, steps, vocab)
    loss, grad = masked_cross_entropy(logits, targets, lengths)
    want_loss, want_grad = _torch_loss(logits, targets, lengths)
    assert_close(loss, want_loss)
    assert_close(grad, want_grad)


def test_masked_cross_entropy_ignores_whatever_padding_holds(rng):
    logits, targets, lengths = _padded(rng, 3, 5, 4)
    lengths[:] = [5, 2, 3]
    garbage = targets.copy()
    garbage[1, 2:] = -7  # not even a token id
    logits_garbage = logits.copy()
    logits_garbage[2, 3:] = np.nan
    loss, grad = masked_cross_entropy(logits_garbage, garbage, lengths)
    assert_close(loss, masked_cross_entropy(logits, targets, lengths)[0])
    assert np.all(grad[1, 2:] == 0) and np.all(grad[2, 3:] == 0)


def test_masked_cross_entropy_is_stable_for_huge_logits(rng):
    logits, targets, lengths = _padded(rng, 2, 4, 6, scale=1e4)
    loss, grad = masked_cross_entropy(logits, targets, lengths)
    want_loss, want_grad = _torch_loss(logits, targets, lengths)
    assert math.isfinite(loss) and np.all(np.isfinite(grad))
    assert_close(loss, want_loss, rtol=1e-10)
    assert_close(grad, want_grad)


def test_masked_cross_entropy_rejects_bad_inputs(rng):
    logits, targets, lengths = _padded(rng, 2, 3, 4)
    with pytest.raises(ValueError, match="expected logits"):
        masked_cross_entropy(logits[0], targets, lengths)
    with pytest.raises(ValueError, match="lengths"):
        masked_cross_entropy(logits, targets, [4, 1])
    bad = targets.copy()
    bad[0, 0] = 4
    with pytest.raises(ValueError, match=r"targets\[0, 0\] = 4"):
        masked_cross_entropy(logits, bad, lengths)
    assert math.isnan(masked_cross_entropy(logits, targets, [0, 0])[0])


def test_corpus_perplexity_weighs_every_token_alike(rng):
    batches = [_padded(rng, batch, steps, 7) for batch, steps in ((3, 5), (1, 2), (5, 7))]
    total = sum(_torch_loss(*batch)[0] * batch[2].sum() for batch in batches)
    tokens = sum(batch[2].sum() for batch in batches)
    assert_close(corpus_perplexity(batches), math.exp(total / tokens))
    joined = corpus_perplexity([(np.concatenate([b[0] for b in batches[:1]]), batches[0][1], batches[0][2])])
    assert_close(joined, math.exp(_torch_loss(*batches[0])[0]))


def test_corpus_perplexity_of_a_single_token(rng):
    logits = rng.normal(size=(1, 1, 5))
    target = np.array([[3]])
    probability = torch.softmax(torch.tensor(logits[0, 0]), dim=0)[3].item()
    assert_close(corpus_perplexity([(logits, target, np.array([1]))]), 1 / probability)
