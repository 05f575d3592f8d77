"""Reference implementations (numpy, float64) that the grader compares students against.

One concept per module, pure functions, no I/O and no torch: PyTorch is the
independent cross-check, used only in ``tests/reference``.

- :mod:`reference.sequence`: padding, masks and packing of variable-length batches
- :mod:`reference.rnn`: Elman/LSTM/GRU cells, multi-layer bidirectional RNNs, BPTT, clipping
- :mod:`reference.lm`: log-softmax, token NLL, cross-entropy, perplexity, LM targets
- :mod:`reference.decoding`: greedy decoding, beam search, sampling, attention
- :mod:`reference.ops`: edugrad operations and a finite-difference gradient check
- :mod:`reference.ffnn`: a fixed-window feed-forward LM (sliding windows, forward pass, loss and gradients)
- :mod:`reference.dan`: a deep averaging network classifier (masked mean of embeddings, hidden layers)
- :mod:`reference.pooling`: last / mean / max pooling of padded RNN outputs with lengths
"""
