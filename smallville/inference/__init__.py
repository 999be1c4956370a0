"""Inference: language models and embeddings behind protocols (see `base.py`)."""
