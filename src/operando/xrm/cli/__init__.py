"""``operando xrm <verb>``: one module per verb, each with ``register(subparsers)``."""

# In the order `operando xrm --help` lists them.
VERB_MODULES = ["simulate", "infer", "bench", "train"]
