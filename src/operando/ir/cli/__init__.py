"""``operando ir <verb>``: one module per verb, each with ``register(subparsers)``."""

# In the order `operando ir --help` lists them.
VERB_MODULES = [
    "simulate",
    "import_export",
    "import_operando",
    "data",
    "train",
    "predict",
    "forecast",
    "bench",
    "decompose",
    "score",
    "report",
]
