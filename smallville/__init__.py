"""smallville: a town of generative agents (Park et al. 2023), deterministic at its core."""

__version__ = "0.1.0"
