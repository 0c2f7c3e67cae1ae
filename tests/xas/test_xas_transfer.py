"""Cu -> Co transfer pieces (issue 36, item 6): fine-tuning keeps the model's scaling, the LixCoO2
series is the multiplicity-weighted site mean, the OS readout, and the generated results section."""
import json

import numpy as np
import torch

from operando.xas.fit import FitConfig, fit
from operando.xas.spt import SPT, SPTConfig
from operando.xas.transfer import expected_os, fine_tune, half_height_edge, licoo2_series, transfer_markdown

from test_xas_spt import SMALL, _toy_set


def test_fine_tune_keeps_scaling_and_frequencies_and_learns():
    torch.manual_seed(0)
    s = _toy_set(40)
    m = SPT(SPTConfig(**SMALL))
    fit(m, s, FitConfig(epochs=2, batch_size=16))
    buffers = {k: v.clone() for k, v in m.named_buffers()}
    shifted = s.subset(np.arange(len(s)))
    shifted.x = shifted.x + 0.3  # another domain: refitting the scaling would move x_mean
    tuned = fine_tune(m, shifted, epochs=3, lr=1e-3)
    for k, v in tuned.named_buffers():
        assert torch.equal(v, buffers[k]), k
    assert any(not torch.equal(a, b) for a, b in zip(m.parameters(), tuned.parameters()))  # weights moved
    assert all(torch.equal(v, buffers[k]) for k, v in m.named_buffers())  # the original is untouched


def test_expected_os_and_half_height_edge():
    np.testing.assert_allclose(expected_os(np.array([[1, 0, 0], [0, 0.5, 0.5]])), [1.0, 2.5])
    e = np.linspace(0, 10, 101)
    assert abs(half_height_edge(e, np.clip((e - 2) / 4, 0, 1)) - 4.0) < 1e-9


def test_licoo2_series_is_the_weighted_site_mean():
    e = np.linspace(7700, 7780, 81)
    rec = lambda x, site, mult, level: {"kind": "licoo2", "x": x, "multiplicity": mult, "name": f"{x}_{site}",
                                         "omega": e, "mu": np.full(81, level), "labels": {}}
    recs = [rec(1.0, 0, 4, 1.0), rec(0.5, 0, 1, 1.0), rec(0.5, 1, 3, 2.0)]
    xs, sp = licoo2_series(recs, 7720.0, np.array([-5.0, 0.0, 5.0]))
    assert xs.tolist() == [1.0, 0.5]
    np.testing.assert_allclose(sp[1], 1.75)
    np.testing.assert_allclose(sp[0], 1.0)


def test_transfer_section_is_generated_from_the_record(tmp_path):
    assert transfer_markdown(tmp_path) == ""
    xs = [1.0, 0.75, 0.5, 0.25, 0.0]
    side = lambda eos, rho: {"expected_os": eos, "os_prob": [[0.1, 0.2, 0.7]] * 5, "os_class": [3] * 5,
                             "cn_class": ["6"] * 5, "spearman_vs_4_minus_x": rho}
    rec = {"n_co_set": 50, "n_licoo2_sites": 7, "x": xs, "anchor_ev": 7723.4,
           "anchor_fit": {"median_edge_shift_ev": -1269.6, "iqr_ev": 1.1, "n_pairs": 50},
           "fine_tune": {"epochs": 60, "lr": 5e-4, "seed": 0, "folds": 5},
           "co_set_os_counts": {"2.0": 30, "3.0": 20}, "co_set_cn_counts": {"4": 50},
           "co_set": {"direct": {"cn_acc": 0.5, "os_acc": None}, "fine_tuned_cv": {"cn_acc": 0.7, "os_acc": 0.8}},
           "direct": side([2.6] * 5, None), "fine_tuned": side([2.1, 2.2, 2.3, 2.5, 2.4], 0.9),
           "licoo2_edge_rel_ev": [0.1, 0.2, 0.3, 0.4, 0.5], "fine_tuned_spearman_by_seed": {"0": 0.9, "1": 0.8}}
    (tmp_path / "transfer_co.json").write_text(json.dumps(rec))
    text = transfer_markdown(tmp_path)
    assert "| 0.25 | 3.75 | +0.40 | 2.600 | 0.10/0.20/0.70 | 6 | 2.500 |" in text
    assert "seed 0 0.900, seed 1 0.800: goal MISSED in not every seed" in text
    assert "fine-tuned on the Co set: 0.900 (met, goal >= 0.9); E[OS] rises by +0.300 from x = 1 to x = 0" in text
    assert "applied directly: not defined (constant prediction)" in text
    assert "| Cu model applied directly | 0.500 | - |" in text
