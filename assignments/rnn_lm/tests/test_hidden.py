"""Hidden tests of the ``rnn_lm`` assignment (40 points): edge cases, deeper models, gradients, more training.

Students see these results only after grading; the handout says in general
terms what they cover.
"""
from __future__ import annotations

import numpy as np

from grader.diagnosis import compare_with_oracle
from grader.testing import StudentFailure, points
from reference.lm import lm_batch, masked_cross_entropy
from reference.sequence import lengths_to_mask, pad_sequence


# --------------------------------------------------------------------- task 1
@points(3, name="Padding and masks: a batch of one, another pad id, max_len beyond the longest")
def test_padding_edge_cases(kit, credit):
    def single_sentence() -> None:
        pad = int(kit.rng.integers(3, 30))
        sentence = kit.sentences([5], 30, (pad,))
        result = kit.call("pad_batch", kit.lm.pad_batch, sentence, pad)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise StudentFailure("pad_batch must return the pair (padded, lengths)")
        kit.exact_oracle(result[0], pad_sequence, [np.array(sentence[0])], pad,
                         what=f"pad_batch(one sentence of length 5, pad_id={pad})")
        kit.exact(result[1], np.array([5]), "the lengths from pad_batch(one sentence of length 5)")

    def longer_mask() -> None:
        lengths = kit.lengths(3, 1, 4)
        got = kit.call("lengths_to_mask", kit.lm.lengths_to_mask, kit.ids(lengths), 7)
        kit.exact_oracle(got, lengths_to_mask, lengths, 7, what=f"lengths_to_mask(lengths={lengths.tolist()}, max_len=7)",
                         kind="b")

    def mask_of_one() -> None:
        got = kit.call("lengths_to_mask", kit.lm.lengths_to_mask, kit.ids([3]))
        kit.exact_oracle(got, lengths_to_mask, [3], what="lengths_to_mask(lengths=[3])", kind="b")

    kit.cases(credit, [single_sentence, longer_mask, mask_of_one])


# --------------------------------------------------------------------- task 2
@points(2, name="make_lm_batch: a one-word sentence beside a longer one, unusual special ids")
def test_make_lm_batch_edge(kit):
    vocab = 40
    pad, bos, eos = kit.specials(vocab)
    sentences = kit.sentences([1, 4], vocab, (pad, bos, eos))
    result = kit.call("make_lm_batch", kit.lm.make_lm_batch, sentences, bos, eos, pad)
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        raise StudentFailure("make_lm_batch must return the tuple (inputs, targets, lengths)")
    what = f"make_lm_batch({sentences}, bos_id={bos}, eos_id={eos}, pad_id={pad})"
    for part, name in enumerate(("inputs", "targets", "lengths")):
        kit.exact_oracle(result[part], lm_batch, sentences, bos, eos, pad, output=part, what=f"the {name} from {what}")


# --------------------------------------------------------------------- task 3
@points(4, name="LSTMLanguageModel with num_layers=2: logits and final state")
def test_forward_two_layers(kit):
    model, weights = kit.model(9, 4, 5, layers=2)
    lengths = kit.lengths(4, 1, 6)
    kit.check_forward(model, weights, kit.rng.integers(0, 9, size=(4, 6)), lengths)


@points(4, name="LSTMLanguageModel: inputs padded beyond the longest sequence; a batch of one short sequence")
def test_forward_wide_padding(kit, credit):
    def case(size: int, longest: int, steps: int) -> None:
        model, weights = kit.model(11, 4, 6)
        lengths = kit.lengths(size, 1, longest)
        kit.check_forward(model, weights, kit.rng.integers(0, 11, size=(size, steps)), lengths)
    kit.cases(credit, [lambda: case(3, 4, 6), lambda: case(1, 2, 5)], noun="batches (3 sequences; 1 sequence)")


@points(3, name="LSTMLanguageModel: a given initial state (h_0, c_0) with unsorted lengths")
def test_forward_initial_state(kit):
    model, weights = kit.model(8, 5, 6)
    lengths = kit.lengths(4, 1, 5)
    state = tuple(kit.logits((1, 4, 6), scale=0.5) for _ in range(2))
    kit.check_forward(model, weights, kit.rng.integers(0, 8, size=(4, 5)), lengths, state)


# --------------------------------------------------------------------- task 4
@points(4, name="lm_loss: its gradient w.r.t. the logits (zero at padding)")
def test_lm_loss_gradient(kit):
    """Backpropagate the student's loss to a logits leaf: (softmax - onehot) / N at real tokens, 0 at padding."""
    (B, T, V), lengths = (4, 5, 7), kit.lengths(4, 1, 5)
    logits, targets = kit.logits((B, T, V)), kit.rng.integers(0, V, size=(B, T))
    leaf = kit.student.put(kit.student.tensor(logits.astype(np.float32), requires_grad=True))
    loss = kit.call("lm_loss", kit.lm.lm_loss, leaf, kit.ids(targets), kit.ids(lengths), keep=True)
    try:
        kit.student.backward(loss)
    except StudentFailure as error:
        raise StudentFailure(f"loss.backward() on the value lm_loss returned failed; compute the loss with torch "
                             f"operations on the logits (no .item(), .detach() or numpy):\n{error}") from None
    grad = kit.student.grads(leaf)
    if grad is None:
        raise StudentFailure("no gradient reached the logits: lm_loss must stay differentiable (no .item(), .detach())")
    compare_with_oracle(grad, masked_cross_entropy, logits, targets, lengths, output=1,
                        what=f"d lm_loss / d logits (B={B}, T={T}, V={V}, lengths={lengths.tolist()})", **kit.TOL)


@points(2, name="lm_loss: a batch of one sequence, and a batch without padding")
def test_lm_loss_edge(kit, credit):
    kit.cases(credit, [
        lambda: kit.check_loss(kit.logits((1, 3, 6)), kit.rng.integers(0, 6, size=(1, 3)), np.array([2])),
        lambda: kit.check_loss(kit.logits((3, 4, 5)), kit.rng.integers(0, 5, size=(3, 4)), np.array([4, 4, 4])),
    ])


@points(3, name="corpus_perplexity: a single one-token sentence; many batches")
def test_corpus_perplexity_edge(kit, credit):
    def many() -> None:
        batches = []
        for size in (1, 4, 2, 6):
            steps = int(kit.rng.integers(2, 8))
            batches.append((kit.logits((size, steps, 10)), kit.rng.integers(0, 10, size=(size, steps)),
                            kit.lengths(size, 1, steps)))
        kit.check_perplexity(batches)
    kit.cases(credit, [
        lambda: kit.check_perplexity([(kit.logits((1, 1, 5)), kit.rng.integers(0, 5, size=(1, 1)), np.array([1]))]),
        many,
    ])


# --------------------------------------------------------------------- task 5
@points(4, name="train_step: two steps in a row (gradients zeroed between them)")
def test_train_two_steps(kit):
    kit.check_train_steps(steps=2, factor=0.5)


@points(3, name="train_step: max_norm above the gradient norm leaves the gradients unchanged")
def test_train_step_no_clipping(kit):
    kit.check_train_steps(steps=1, factor=5.0, lr=0.2)


# --------------------------------------------------------------------- task 6
@points(4, name="generate at temperature 2: first tokens follow softmax(z / 2) (500 draws)")
def test_generate_distribution_hot(kit):
    kit.check_distribution(temperature=2.0)


@points(4, name="generate with a two-layer model at temperature 0.001 (state fed back through both layers)")
def test_generate_two_layers(kit, credit):
    kit.check_greedy(credit, layers=2)
