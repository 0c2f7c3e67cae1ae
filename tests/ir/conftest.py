"""Fixtures of the IR tests."""
from __future__ import annotations

import pytest
from toy import toy_experiment

from operando.ir.data.dataset import OperandoDataset


@pytest.fixture
def toy_dataset() -> OperandoDataset:
    """Six cells: three Cu/EC:DMC, two Sn/EC:DMC, one LTO/EC (held out by a system split)."""
    exps = [toy_experiment(f"cu-{i}", seed=i) for i in range(3)]
    exps += [toy_experiment(f"sn-{i}", seed=10 + i, electrode="Sn") for i in range(2)]
    exps += [toy_experiment("lto-ec", n=14, seed=20, electrode="LTO", ec=1.0)]
    return OperandoDataset(exps, simulated=True)
