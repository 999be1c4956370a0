"""The headless evaluations: how news of the seeded facts spreads and how the social network grows
(the paper's end-to-end study), read from saves and from interviews of the residents."""
