"""Reference implementations (numpy, float64) that the grader compares students against.

One concept per module, pure functions, no I/O and no torch: PyTorch is the
independent cross-check, used only in ``tests/reference``.

- :mod:`reference.sequence`: padding, masks and packing of variable-length batches
- :mod:`reference.rnn`: Elman/LSTM/GRU cells, multi-layer bidirectional RNNs, BPTT, clipping
- :mod:`reference.lm`: log-softmax, token NLL, cross-entropy, perplexity, LM targets
- :mod:`reference.decoding`: greedy decoding, beam search, sampling, attention
- :mod:`reference.ops`: edugrad operations and a finite-difference gradient check
"""
