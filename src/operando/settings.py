"""Settings objects (dataclasses) built from the tables of a TOML run config."""
from __future__ import annotations

import dataclasses
from typing import Mapping


def settings_from_table(cls, value, what: str):
    """An instance of the dataclass ``cls`` from itself or from a dict of its fields (a config
    table); anything else, or an unknown key, raises ValueError naming ``what``."""
    if isinstance(value, cls):
        return value
    if not isinstance(value, Mapping):
        raise ValueError(f"{what} must be a table of {what} settings, got {type(value).__name__}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(value) - known)
    if unknown:
        raise ValueError(f"unknown {what} settings {unknown}; known: {sorted(known)}")
    return cls(**value)
