"""Texts to vectors: the `Encoder` protocol, one file per backend, and `load_encoder`."""
