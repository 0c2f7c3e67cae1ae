"""Verbs of ``operando xas``: each module exposes ``register(subparsers)`` setting ``func(args) -> int``."""

VERB_MODULES = ["predict", "bench", "train", "perturb", "transfer"]
