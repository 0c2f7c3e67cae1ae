"""The shipped SOC network: hash-checked on load, usable on CPU, and refused by name when missing
or altered (with the command that rebuilds it)."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from operando.errors import InputError
from operando.xrm import soc as S
from operando.xrm import weights
from operando.xrm.render import RenderConfig, SpectralModel


def test_shipped_network_loads_and_states_its_error_honestly():
    net = weights.load_network()
    model = SpectralModel(RenderConfig(), 0.95, 0.5)
    mu, soc = S._rendered_spectra(model, 3000, np.random.default_rng(11), snr=50, jitter_eV=0.2,
                                  thickness_sigma=0.25, background=1.0)
    pred, sigma = net.predict(mu[:, None, None, :])
    err = pred[:, 0, 0] - soc
    assert float(np.sqrt(np.mean(err ** 2))) < 0.12
    assert 0.7 < float(np.sqrt(np.mean((err / sigma[:, 0, 0]) ** 2))) < 1.4


def test_altered_or_missing_weights_name_the_file_and_the_rebuild_command(tmp_path):
    w = tmp_path / weights.SHIPPED.name
    shutil.copy(weights.SHIPPED, w)
    shutil.copy(weights.SHIPPED.parent / "manifest.json", tmp_path / "manifest.json")
    weights.load_network(w)  # an intact copy loads
    data = bytearray(w.read_bytes())
    data[-1] ^= 0xFF
    w.write_bytes(bytes(data))
    with pytest.raises(InputError, match=rf"{w.name}: SHA-256 .* differs from the manifest's .*"
                                         r"rebuild it with `operando xrm train`"):
        weights.load_network(w)
    w.unlink()
    with pytest.raises(InputError, match=rf"{w.name}: missing shipped file; rebuild it with `operando xrm train`"):
        weights.load_network(w)
    (tmp_path / "manifest.json").unlink()
    with pytest.raises(InputError, match=r"manifest.json: missing"):
        weights.load_network(w)
