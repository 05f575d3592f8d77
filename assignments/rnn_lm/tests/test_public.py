"""Public tests of the ``rnn_lm`` assignment: the self-check students see (60 points).

Every test draws its inputs from the ``rng`` fixture and judges the student's
``lm.py`` through the ``kit`` fixture (``conftest.py``) against the numpy
oracles in :mod:`reference` (and PyTorch in float64 for training gradients);
a wrong answer that a known mistake reproduces is named (:mod:`grader.diagnosis`).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from grader.testing import StudentFailure, points
from reference.lm import lm_batch, masked_cross_entropy
from reference.sequence import lengths_to_mask, pad_sequence


CORPUS = Path(__file__).resolve().parent.parent / "data" / "tiny_corpus.txt"


def read_corpus() -> tuple[list[list[int]], int]:
    """The shipped corpus as ids: 0 = <pad>, 1 = <bos>, 2 = <eos>, then the words in sorted order."""
    lines = [line.lower().split() for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    vocab = {word: 3 + i for i, word in enumerate(sorted({w for line in lines for w in line}))}
    return [[vocab[w] for w in line] for line in lines], len(vocab) + 3


def _pair(result, what: str, names: str):
    if not isinstance(result, (tuple, list)) or len(result) != names.count(",") + 1:
        raise StudentFailure(f"{what} must return the tuple ({names})")
    return result


# --------------------------------------------------------------------- task 1: padding and masks
@points(4, name="pad_batch: padded ids and lengths (unsorted lengths, a one-token sentence)")
def test_pad_batch(kit):
    pad, _, _ = kit.specials(20)
    lengths = kit.lengths(5, 1, 6)
    lengths[int(np.argmin(lengths))] = 1
    sentences = kit.sentences(lengths, 20, (pad,))
    what = f"pad_batch(sentences of lengths {lengths.tolist()}, pad_id={pad})"
    padded, got_lengths = _pair(kit.call("pad_batch", kit.lm.pad_batch, sentences, pad), what, "padded, lengths")
    kit.exact_oracle(padded, pad_sequence, [np.array(s) for s in sentences], pad, what=f"the padded batch from {what}")
    kit.exact(got_lengths, lengths, f"the lengths from {what}")


@points(3, name="lengths_to_mask: True at real tokens, False at padding")
def test_lengths_to_mask(kit):
    lengths = kit.lengths(6, 1, 7)
    got = kit.call("lengths_to_mask", kit.lm.lengths_to_mask, kit.ids(lengths))
    kit.exact_oracle(got, lengths_to_mask, lengths, what=f"lengths_to_mask(lengths={lengths.tolist()})", kind="b")


# --------------------------------------------------------------------- task 2: inputs and targets
@points(4, name="make_lm_batch: inputs [bos, w_1..w_n], targets [w_1..w_n, eos], padded")
def test_make_lm_batch(kit):
    vocab = 15
    pad, bos, eos = kit.specials(vocab)
    sentences = kit.sentences(kit.lengths(4, 1, 6), vocab, (pad, bos, eos))
    what = f"make_lm_batch(sentences of lengths {[len(s) for s in sentences]}, bos_id={bos}, eos_id={eos}, pad_id={pad})"
    inputs, targets, lengths = _pair(kit.call("make_lm_batch", kit.lm.make_lm_batch, sentences, bos, eos, pad),
                                     what, "inputs, targets, lengths")
    for part, (got, name) in enumerate(zip((inputs, targets, lengths), ("inputs", "targets", "lengths (n + 1 per sentence)"))):
        kit.exact_oracle(got, lm_batch, sentences, bos, eos, pad, output=part, what=f"the {name} from {what}")


# --------------------------------------------------------------------- task 3: the model
@points(3, name="LSTMLanguageModel: submodules embedding, lstm, output with PyTorch's parameter names")
def test_model_parameters(kit):
    kit.model(11, 4, 6)
    kit.model(7, 5, 3)


@points(6, name="LSTMLanguageModel: logits at every real position (unsorted lengths; a batch of 1)")
def test_forward_logits(kit, credit):
    def batch(size: int, steps: int) -> None:
        model, weights = kit.model(13, 5, 8)
        lengths = kit.lengths(size, 1, steps)
        kit.check_forward(model, weights, kit.rng.integers(0, 13, size=(size, steps)), lengths, parts=("logits",))
    kit.cases(credit, [lambda: batch(5, 6), lambda: batch(1, 4)], noun="batches (5 sequences; 1 sequence)")


@points(5, name="LSTMLanguageModel: final state (h_n, c_n) at each sequence's true end")
def test_forward_final_state(kit):
    model, weights = kit.model(10, 4, 6)
    lengths = kit.lengths(4, 1, 7)
    kit.check_forward(model, weights, kit.rng.integers(0, 10, size=(4, 7)), lengths, parts=("state",))


# --------------------------------------------------------------------- task 4: loss and perplexity
@points(6, name="lm_loss: mean cross-entropy over the real tokens, a 0-d tensor (also on logits of magnitude ~100)")
def test_lm_loss(kit):
    lengths = kit.lengths(4, 1, 6)
    kit.check_loss(kit.logits((4, 6, 9)), kit.rng.integers(0, 9, size=(4, 6)), lengths)
    # Logits beyond 88 overflow exp in float32: a softmax that does not subtract the maximum gives nan or inf.
    lengths = kit.lengths(3, 1, 5)
    kit.check_loss(kit.logits((3, 5, 7), scale=60.0), kit.rng.integers(0, 7, size=(3, 5)), lengths)


@points(5, name="corpus_perplexity: token-weighted over batches of different sizes")
def test_corpus_perplexity(kit):
    vocab = 8
    batches = []
    for size, steps in ((3, 5), (1, 2), (5, 7)):
        lengths = kit.lengths(size, 1, steps)
        batches.append((kit.logits((size, steps, vocab)), kit.rng.integers(0, vocab, size=(size, steps)), lengths))
    kit.check_perplexity(batches)


# --------------------------------------------------------------------- task 5: training
@points(6, name="train_step: one SGD step with the gradient norm clipped (parameters and returned loss)")
def test_train_step(kit):
    kit.check_train_steps(steps=1, factor=0.3)


@points(6, name="Training on the tiny corpus lowers the loss (recomputed by the grader from your parameters)")
def test_training_lowers_loss(kit):
    """Three epochs of the student's train_step with Adam; the loss before and after comes from the oracles.

    The losses train_step returns are not used: the grader reads the trained
    parameters back and computes the corpus loss itself.
    """
    sentences, vocab = read_corpus()
    model, weights = kit.model(vocab, 8, 16, weights=kit.weights(vocab, 8, 16, scale=0.3, embedding=0.3))
    specials = (0, 1, 2)
    inputs, targets, lengths = kit.oracle_batch(sentences, specials)

    def corpus_loss(params: dict) -> float:
        # PyTorch in float64, not the oracle: the trained parameters are the student's, and a released bundle's
        # self-check replays only oracle calls whose arguments the test chose (the two agree to 1e-12).
        return kit.torch_loss_and_grads(params, inputs, targets, lengths)[0]

    before = corpus_loss(weights)
    optimizer = kit.optimizer(model, "Adam", lr=0.03)
    batches = [kit.oracle_batch(sentences[i:i + 6], specials) for i in range(0, len(sentences), 6)]
    for _ in range(3):
        for batch in batches:
            kit.train_step(model, optimizer, batch, 1.0)
    trained = {name: np.asarray(value, dtype=np.float64) for name, value in kit.student.state_dict(model).items()}
    broken = [name for name, value in trained.items() if not np.all(np.isfinite(value))]
    if broken:
        raise StudentFailure(f"after training, these parameters hold NaN or inf: {', '.join(broken)}")
    after = corpus_loss(trained)
    if not after <= before - 0.5:
        raise StudentFailure(
            f"after {3 * len(batches)} calls of train_step (Adam, lr=0.03, max_norm=1) over the {len(sentences)} "
            f"sentences of data/tiny_corpus.txt, the loss the grader computes from your model's parameters went from "
            f"{before:.3f} to {after:.3f} nats per token (perplexity {math.exp(before):.1f} -> {math.exp(after):.1f}); "
            f"a correct train_step lowers it by more than 0.5")


# --------------------------------------------------------------------- task 6: generation
@points(5, name="generate at temperature 0.001 is greedy: stops at eos, or after max_len tokens")
def test_generate_greedy(kit, credit):
    kit.check_greedy(credit, layers=1)


@points(3, name="generate: the same seed gives the same tokens; the global RNG is not used")
def test_generate_reproducible(kit):
    vocab, max_len = 12, 15
    weights = kit.weights(vocab, 5, 8, scale=0.3)
    bos, eos = (int(t) for t in kit.rng.choice(vocab, size=2, replace=False))
    weights["output.bias"][eos] = -3.0  # long samples, so different seeds give different tokens for certain
    model, _ = kit.model(vocab, 5, 8, weights=weights)
    kit.check_model_for("generate", model, weights, bos)
    torch_remote = kit.student.module("torch")
    seeds = [int(s) for s in kit.rng.integers(2**31, size=3)]
    before = torch_remote.get_rng_state()
    runs = [kit.generate(model, bos, eos, max_len, 1.0, kit.generator(s), vocab) for s in (seeds[0], *seeds)]
    after = torch_remote.get_rng_state()
    if runs[0] != runs[1]:
        raise StudentFailure(f"two calls of generate with generators seeded alike ({seeds[0]}) returned different "
                             f"tokens:\n  {runs[0]}\n  {runs[1]}\ndraw with torch.multinomial(probs, 1, generator=generator)")
    if not np.array_equal(before, after):
        raise StudentFailure("generate changed PyTorch's global random state: draw only from the generator passed in "
                             "(torch.multinomial(probs, 1, generator=generator)) and never call torch.manual_seed")
    if runs[0] == runs[2] == runs[3]:
        raise StudentFailure(f"three different seeds gave the same tokens {runs[0]}: generate must draw from the "
                             "generator it is given")


@points(4, name="generate at temperature 0.5: first tokens follow softmax(z / 0.5) (500 draws)")
def test_generate_distribution(kit):
    kit.check_distribution(temperature=0.5)
