"""Curve resolution on IR data: matching against the simulator's band library, and
``operando ir decompose`` / ``operando ir plot`` on a toy dataset."""
from __future__ import annotations

import numpy as np
import pytest

from operando.decompose import match_components


def test_match_components_on_simulator_library():
    bands = pytest.importorskip("operando.ir.simulate.bands")
    wn = np.linspace(700.0, 1900.0, 1201)
    names = list(bands.BAND_LIBRARY)
    S = np.stack([bands.species_spectrum(n, wn) for n in names])
    assert [m.species for m in match_components(S, wn, bands.BAND_LIBRARY)] == names


def test_cli_decompose_and_plot(toy_dataset, tmp_path, capsys):
    import json

    from operando.cli.main import main
    from operando.ir.data.preprocess import preprocess_experiment

    data = toy_dataset.save(tmp_path / "data.h5")
    out = tmp_path / "mcr"
    assert main(["ir", "decompose", str(data), "-e", "cu-0", "-o", str(out), "--fix-initial", "--margin", "3",
                 "--max-iter", "200"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    # Solvent and PF6- profiles are collinear in the toy cell: two independent components
    # (the SEI band is weak: 3.4 noise edges), the first being the fixed first spectrum.
    assert summary["n_components"] == summary["n_components_suggested"] == 2
    assert summary["fixed_components"] == [1] and summary["lack_of_fit_percent"] < 5
    assert summary["measured"]["mode"] == "raw"
    assert len(summary["truth_agreement"]["components"]) == 1  # the free component, scored
    header = (out / "concentrations.csv").read_text().splitlines()[0]
    assert header == "Time [s],Voltage [V],Component 1,Component 2"
    rows = np.loadtxt(out / "components.csv", delimiter=",", skiprows=1)
    assert rows.shape == (601, 3)
    first = preprocess_experiment(toy_dataset["cu-0"])[0].absorbance[0]  # on the preprocessed grid
    np.testing.assert_allclose(rows[:, 1], first, atol=1e-6)
    assert (out / "decomposition.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["ir", "plot", str(data), "-e", "cu-1", "--kind", "difference",
                 "-o", str(tmp_path / "diff.png")]) == 0
    assert (tmp_path / "diff.png").exists()
    capsys.readouterr()
    # several experiments, none chosen (a new folder: an existing one is refused first, without --force)
    assert main(["ir", "decompose", str(data), "-o", str(tmp_path / "mcr-all")]) == 1
    assert "--experiment" in capsys.readouterr().err
    # bad options into the earlier folder with --force: refused for the option, not for the folder
    capsys.readouterr()
    assert main(["ir", "decompose", str(data), "-e", "cu-0", "-o", str(out), "--force", "-k", "x"]) == 1
    assert "pass --force" not in capsys.readouterr().err
    assert main(["ir", "decompose", str(data), "-e", "cu-0", "-o", str(out), "--force", "-k", "2",
                 "--unimodal", "3"]) == 1
    assert "pass --force" not in capsys.readouterr().err
