"""Alice's seq2seq.py: an attentional encoder-decoder, greedy decoding and beam search."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from typing import NamedTuple


class Hypothesis(NamedTuple):
    tokens: tuple
    score: float


class Seq2Seq(nn.Module):
    def __init__(self, src_vocab_size, tgt_vocab_size, embed_size, hidden_size, pad_id=0):
        super().__init__()
        self.pad_id = pad_id
        self.src_embedding = nn.Embedding(src_vocab_size, embed_size)
        self.tgt_embedding = nn.Embedding(tgt_vocab_size, embed_size)
        self.encoder = nn.LSTM(embed_size, hidden_size, bidirectional=True, batch_first=True)
        self.h_bridge = nn.Linear(2 * hidden_size, hidden_size, bias=False)
        self.c_bridge = nn.Linear(2 * hidden_size, hidden_size, bias=False)
        self.decoder = nn.LSTMCell(embed_size, hidden_size)
        self.att_projection = nn.Linear(2 * hidden_size, hidden_size, bias=False)
        self.combined_projection = nn.Linear(3 * hidden_size, hidden_size, bias=False)
        self.output_projection = nn.Linear(hidden_size, tgt_vocab_size)

    def encode(self, src, lengths):
        x = pack_padded_sequence(self.src_embedding(src), lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, (h_n, c_n) = self.encoder(x)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=src.size(1))
        return out, (h_n, c_n)

    def bridge(self, h_n, c_n):
        B = h_n.size(1)
        h = h_n.permute(1, 0, 2).reshape(B, -1)
        c = c_n.permute(1, 0, 2).reshape(B, -1)
        return self.h_bridge(h), self.c_bridge(c)

    def attend(self, query, enc_hiddens, src_mask):
        e = torch.einsum("bh,bsh->bs", query, self.att_projection(enc_hiddens))
        e = e.masked_fill(src_mask == 0, -1e9)
        alpha = F.softmax(e, dim=-1)
        return torch.einsum("bs,bsd->bd", alpha, enc_hiddens), alpha

    def initial_state(self, src, lengths):
        enc, (h_n, c_n) = self.encode(src, lengths)
        h0, c0 = self.bridge(h_n, c_n)
        mask = torch.arange(src.size(1)).unsqueeze(0) < lengths.unsqueeze(1)
        return (h0, c0, enc, mask)

    def step(self, prev_tokens, state):
        h, c, enc, mask = state
        h, c = self.decoder(self.tgt_embedding(prev_tokens), (h, c))
        a, _ = self.attend(h, enc, mask)
        o = torch.tanh(self.combined_projection(torch.cat((a, h), -1)))
        return F.log_softmax(self.output_projection(o), dim=-1), (h, c, enc, mask)


def select_state(state, rows):
    if isinstance(state, (tuple, list)):
        return tuple(select_state(s, rows) for s in state)
    return None if state is None else state[rows]


def greedy_decode(step, state, bos, eos, max_len):
    out, prev = [], bos
    for _ in range(max_len):
        lp, state = step(torch.tensor([prev], dtype=torch.long), state)
        prev = lp[0].argmax().item()
        if prev == eos:
            break
        out.append(prev)
    return out


def beam_search(step, state, bos, eos, beam_size, max_len, length_penalty=0.0):
    beams = [()]                       # token tuples of the live hypotheses
    totals = torch.zeros(1, dtype=torch.float64)
    done = []                          # (tokens, total log-prob)
    for _ in range(max_len):
        if not beams:
            break
        prev = torch.tensor([b[-1] if b else bos for b in beams])
        lp, new_state = step(prev, state)
        lp = lp.detach().double()
        V = lp.size(1)
        cand = (totals[:, None] + lp).reshape(-1)
        # sort by score (descending); equal scores: lexicographic order of (parent tokens, word)
        keys = sorted(range(cand.numel()), key=lambda i: (-cand[i].item(), beams[i // V], i % V))
        keep = keys[: beam_size - len(done)]
        new_beams, new_totals, parents = [], [], []
        for i in keep:
            p, w = divmod(i, V)
            if w == eos:
                done.append((beams[p], cand[i].item()))
            else:
                new_beams.append(beams[p] + (w,))
                new_totals.append(cand[i].item())
                parents.append(p)
        beams, totals = new_beams, torch.tensor(new_totals, dtype=torch.float64)
        state = select_state(new_state, torch.tensor(parents, dtype=torch.long))
    pool = [(t, s, t + (eos,)) for t, s in done] + [(t, s, t) for t, s in zip(beams, totals.tolist())]
    scored = [(s / max(1, len(t)) ** length_penalty, sym, t) for t, s, sym in pool]
    scored.sort(key=lambda x: (-x[0], x[1]))
    return [Hypothesis(t, s) for s, _, t in scored[:beam_size]]
