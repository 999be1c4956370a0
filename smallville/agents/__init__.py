"""Generative agents: memory stream, perception, reflection, planning and conversation of the residents."""
