"""Alice - classifier.py (homework 5: sentiment with an LSTM)."""
import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


def pool_states(outputs, lengths, method, bidirectional=False):
    pooled = []
    hidden = outputs.shape[2] // 2
    for b in range(outputs.shape[0]):
        n = int(lengths[b])
        real = outputs[b, :n]
        if method == "last":
            vector = real[-1]
            if bidirectional:
                vector = torch.cat([real[-1, :hidden], real[0, hidden:]])
        elif method == "mean":
            vector = real.sum(dim=0) / n
        elif method == "max":
            vector = real.max(dim=0).values
        else:
            raise ValueError("pooling must be last, mean or max")
        pooled.append(vector)
    return torch.stack(pooled)


class RNNClassifier(nn.Module):
    def __init__(self, vocab_size, embedding_dim, hidden_size, num_classes, pooling="last", bidirectional=False):
        super().__init__()
        self.pooling = pooling
        self.bidirectional = bidirectional
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, hidden_size, batch_first=True, bidirectional=bidirectional)
        directions = 2 if bidirectional else 1
        self.classifier = nn.Linear(directions * hidden_size, num_classes)

    def forward(self, inputs, lengths):
        packed = pack_padded_sequence(self.embedding(inputs), lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, (h_n, _) = self.lstm(packed)
        if self.pooling == "last":
            # h_n holds each sequence's final state, in the original order: [forward; backward] when bidirectional.
            summary = torch.cat([h_n[-2], h_n[-1]], dim=1) if self.bidirectional else h_n[-1]
        else:
            padded, _ = pad_packed_sequence(out, batch_first=True)
            summary = pool_states(padded, lengths, self.pooling, self.bidirectional)
        return self.classifier(summary)


def predict(model, inputs, lengths):
    model.eval()
    with torch.no_grad():
        scores = model(inputs, lengths)
    return torch.argmax(scores, dim=1)
