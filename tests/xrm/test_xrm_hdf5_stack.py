"""HDF5 image-stack reader: flat/dark correction recovers the rendered absorption, and each bad
input of the issue gives one error naming the file and the problem, with no result files."""
from __future__ import annotations

import h5py
import numpy as np
import pytest

from operando.cli.main import main as operando_main
from operando.errors import InputError
from operando.xrm.io.hdf5_stack import read_image_stack
from operando.xrm.render import RenderConfig, SpectralModel, render_stack

N_F, N_Y, N_X = 3, 5, 4


def _mu():
    """Noise-free rendered absorption (frame, y, x, energy) and its energies [eV]."""
    cfg = RenderConfig(snr=0.0, jitter_eV=0.0, n_energies=20, seed=1)
    model = SpectralModel(cfg, 0.95, 0.5)
    soc = np.linspace(0.1, 0.9, N_F)[:, None, None] * np.ones((1, N_Y, N_X))
    return render_stack(soc, model, cfg)["mu"], model.energy


def write_stack(path, *, mu=None, energy=None, flat_shape=None, drop=(), nan=False, energy_kev=False,
                times=None):
    """Counts I = D + (I0 - D) exp(-mu) in the Data Exchange layout (frame, energy, y, x)."""
    if mu is None:
        mu, energy = _mu()
    data_counts = np.moveaxis(mu, -1, 1)  # (frame, energy, y, x)
    n_e = data_counts.shape[1]
    dark = np.full((2, N_Y, N_X), 100.0)  # two dark frames, averaged by the reader
    flat = 100.0 + 5e4 * (1.0 + 0.2 * np.random.default_rng(0).random((n_e, N_Y, N_X)))
    counts = dark[0] + (flat - dark[0]) * np.exp(-data_counts)
    if nan:
        counts[1, 2, 0, 0] = np.nan
    if flat_shape is not None:
        flat = np.full(flat_shape, 5e4)
    with h5py.File(path, "w") as h:
        items = {"exchange/data": counts, "exchange/data_white": flat, "exchange/data_dark": dark,
                 "exchange/energy": energy / 1000.0 if energy_kev else energy,
                 "exchange/time": np.arange(N_F) * 600.0 + 60.0 if times is None else times}
        for name, value in items.items():
            if name not in drop:
                h.create_dataset(name, data=value)
        if energy_kev and "exchange/energy" not in drop:
            h["exchange/energy"].attrs["units"] = "keV"
    return path


def test_flat_and_dark_correction_recovers_the_absorption(tmp_path):
    mu, energy = _mu()
    stack = read_image_stack(write_stack(tmp_path / "s.h5", energy_kev=True))
    assert stack.optical_density.shape == mu.shape == (N_F, N_Y, N_X, 20)
    np.testing.assert_allclose(stack.optical_density, mu, atol=1e-9)
    np.testing.assert_allclose(stack.energy_eV, energy)
    assert stack.times_s.tolist() == [60.0, 660.0, 1260.0]
    assert stack.capability.startswith("20 energies: per-pixel spectra")


def test_one_state_stack_and_energies_in_kev_without_units(tmp_path):
    mu, energy = _mu()
    p = tmp_path / "one.h5"
    with h5py.File(p, "w") as h:
        h["exchange/data"] = 1e4 * np.exp(-np.moveaxis(mu[0], -1, 0))
        h["exchange/data_white"] = np.full((N_Y, N_X), 1e4)
        h["exchange/energy"] = energy
    assert read_image_stack(p).optical_density.shape == (1, N_Y, N_X, 20)
    with h5py.File(p, "a") as h:
        h["exchange/energy"][...] = energy / 1000.0
    with pytest.raises(InputError, match=r"one.h5: field 'exchange/energy': energies 7.714-7.766 look like keV"):
        read_image_stack(p)


BAD = [
    ("mismatched shapes", dict(times=np.array([0.0, 1.0])), "field 'exchange/time': 2 frame times for 3 frames"),
    ("missing energies", dict(drop=("exchange/energy",)), "no dataset 'exchange/energy': the energies of the "
                                                           "images are missing"),
    ("too few energies", dict(energy=np.linspace(7714, 7766, 19)), "19 energies for 20 images per frame"),
    ("NaN", dict(nan=True), "field 'exchange/data': 1 of 1200 values are NaN or infinite"),
    ("flat field of the wrong size", dict(flat_shape=(N_Y, N_X + 1)),
     "field 'exchange/data_white': flat field is 5x5 pixels (y x x) but the images are 5x4"),
]


@pytest.mark.parametrize("case, kwargs, message", BAD, ids=[b[0] for b in BAD])
def test_bad_stack_one_error_no_result_files(tmp_path, capsys, case, kwargs, message):
    if "energy" in kwargs:
        kwargs = {**kwargs, "mu": _mu()[0]}
    src = write_stack(tmp_path / "stack.h5", **kwargs)
    with pytest.raises(InputError) as err:
        read_image_stack(src)
    assert str(err.value).startswith(str(src)) and message in str(err.value)
    out = tmp_path / "out" / "res.h5"
    assert operando_main(["xrm", "infer", "--stack", str(src), "-o", str(out)]) == 1
    stderr = capsys.readouterr().err
    assert message in stderr and stderr.count("stack.h5") == 1
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def _csv(path, t_end_s):
    t = np.linspace(0.0, t_end_s, 50)
    rows = "\n".join(f"{a:.3f},{3.9 + a / 1e4:.5f},-1.5" for a in t)
    path.write_text("Time [s],Voltage [V],Current [mA]\n" + rows + "\n")
    return path


def test_current_record_must_cover_the_frames(tmp_path, capsys):
    src = write_stack(tmp_path / "stack.h5")
    out = tmp_path / "out" / "res.h5"
    short = _csv(tmp_path / "short.csv", 1000.0)  # the frames run 60-1260 s
    assert operando_main(["xrm", "infer", "--stack", str(src), "--echem", str(short), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert (f"{short}: the current record covers 0-1000 s but the frames of stack.h5 run 60-1260 s "
            "(1 of 3 frames outside)") in err
    assert not out.parent.exists() or list(out.parent.iterdir()) == []
    # a record that covers them: voltage and current stored at the frame times
    full = _csv(tmp_path / "full.csv", 2000.0)
    assert operando_main(["xrm", "infer", "--stack", str(src), "--echem", str(full), "-o", str(out)]) == 0
    with h5py.File(out) as h:
        np.testing.assert_allclose(h["Voltage [V]"][()], 3.9 + np.array([60.0, 660.0, 1260.0]) / 1e4, atol=1e-5)
        np.testing.assert_allclose(h["Current [mA]"][()], -1.5)
        np.testing.assert_allclose(h["Optical density"][()], _mu()[0], atol=1e-9)
    assert sorted(p.name for p in out.parent.iterdir()) == ["res.config.json", "res.h5", "res.png"]
