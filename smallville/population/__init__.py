"""Populations: people drawn from attribute distributions, for round games and for towns."""
