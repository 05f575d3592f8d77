"""reference.decoding's encoder-decoder pieces (bridge, attention_decoder_step) against PyTorch modules in float64."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from reference.decoding import attention_decoder_step, bridge
from tests.reference.conftest import assert_close, to_numpy, to_torch

seeds = st.integers(0, 2**32 - 1)


@given(seed=seeds, batch=st.integers(1, 4), hidden=st.integers(1, 5), out=st.integers(1, 4))
def test_bridge_is_a_linear_layer_over_both_directions_of_a_bidirectional_lstm(seed, batch, hidden, out):
    gen = np.random.default_rng(seed)
    lstm = torch.nn.LSTM(3, hidden, batch_first=True, bidirectional=True).double()
    linear = torch.nn.Linear(2 * hidden, out, bias=False).double()
    with torch.no_grad():
        _, (h_n, _) = lstm(to_torch(gen.normal(size=(batch, 4, 3))))
        expected = linear(torch.cat([h_n[0], h_n[1]], dim=1))
    assert_close(bridge(to_numpy(h_n), to_numpy(linear.weight)), expected)


def test_bridge_rejects_states_that_are_not_two_directions(rng):
    with pytest.raises(ValueError, match=r"\(2, B, H\)"):
        bridge(rng.normal(size=(1, 3, 4)), rng.normal(size=(4, 8)))
    with pytest.raises(ValueError, match=r"\(H_dec, 8\)"):
        bridge(rng.normal(size=(2, 3, 4)), rng.normal(size=(4, 4)))


class TorchDecoderStep(torch.nn.Module):
    """The handout's decoder step, written with PyTorch modules (float64)."""

    def __init__(self, embed: int, hidden: int, encoded: int, vocab: int) -> None:
        super().__init__()
        self.cell = torch.nn.LSTMCell(embed, hidden)
        self.att_projection = torch.nn.Linear(encoded, hidden, bias=False)
        self.combined_projection = torch.nn.Linear(encoded + hidden, hidden, bias=False)
        self.output_projection = torch.nn.Linear(hidden, vocab)
        self.double()

    def forward(self, y, h, c, enc, mask):
        h, c = self.cell(y, (h, c))
        scores = torch.bmm(self.att_projection(enc), h.unsqueeze(2)).squeeze(2)
        alpha = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=1)
        context = torch.bmm(alpha.unsqueeze(1), enc).squeeze(1)
        combined = torch.tanh(self.combined_projection(torch.cat([context, h], dim=1)))
        return torch.log_softmax(self.output_projection(combined), dim=1), (h, c)

    def params(self) -> dict[str, np.ndarray]:
        return {"weight_ih": to_numpy(self.cell.weight_ih), "weight_hh": to_numpy(self.cell.weight_hh),
                "bias_ih": to_numpy(self.cell.bias_ih), "bias_hh": to_numpy(self.cell.bias_hh),
                "attention_weight": to_numpy(self.att_projection.weight),
                "combined_weight": to_numpy(self.combined_projection.weight),
                "output_weight": to_numpy(self.output_projection.weight),
                "output_bias": to_numpy(self.output_projection.bias)}


@given(seed=seeds, k=st.integers(1, 4), positions=st.integers(1, 5), embed=st.integers(1, 4),
       hidden=st.integers(1, 4), vocab=st.integers(2, 6), data=st.data())
def test_attention_decoder_step_matches_torch(seed, k, positions, embed, hidden, vocab, data):
    torch.manual_seed(seed % 2**31)
    gen = np.random.default_rng(seed)
    model = TorchDecoderStep(embed, hidden, 2 * hidden, vocab)
    y, h, c = (gen.normal(size=shape) for shape in ((k, embed), (k, hidden), (k, hidden)))
    enc = gen.normal(size=(k, positions, 2 * hidden))
    lengths = np.array(data.draw(st.lists(st.integers(1, positions), min_size=k, max_size=k), label="lengths"))
    mask = np.arange(positions)[None, :] < lengths[:, None]
    with torch.no_grad():
        expected, (h_next, c_next) = model(*(to_torch(a) for a in (y, h, c, enc)), torch.tensor(mask))
    log_probs, (h_got, c_got) = attention_decoder_step(y, (h, c, enc, mask), model.params())
    assert_close(log_probs, expected, what="log_probs")
    assert_close(h_got, h_next, what="h'")
    assert_close(c_got, c_next, what="c'")


def test_attention_decoder_step_names_missing_parameters(rng):
    state = (np.zeros((1, 2)), np.zeros((1, 2)), np.zeros((1, 3, 4)), None)
    with pytest.raises(ValueError, match="missing \\['output_bias'\\]"):
        params = TorchDecoderStep(2, 2, 4, 3).params()
        del params["output_bias"]
        attention_decoder_step(np.zeros((1, 2)), state, params)
