"""Chemical Flow transform and the physics losses (L_mass, L_peak) with their evaluation numbers."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from operando.errors import OperandoError
from operando.flow.physics import (
    ChemicalFlow,
    PeakConfig,
    mass_loss,
    mass_residual,
    peak_drift,
    peak_loss,
    region_masks,
    target_peaks,
)

W = 301
GRID_CM1 = np.linspace(1400.0, 2000.0, W)  # 2 cm-1 steps
X = torch.arange(W, dtype=torch.float64)


def band(centre: float, amp: float = 0.5, width: float = 4.0) -> torch.Tensor:
    return amp * torch.exp(-0.5 * ((X - centre) / width) ** 2)


def flows(shift: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Target: a growing band at 100 and a falling one at 200; prediction: both shifted."""
    true = torch.stack([band(100) - band(200, 0.3), band(150, 0.8)])
    pred = torch.stack([band(100 + shift) - band(200 + shift, 0.3), band(150 + shift, 0.8)])
    return pred, true


# --- Chemical Flow ---------------------------------------------------------------------------------


def test_chemical_flow_numpy_and_torch():
    cf = ChemicalFlow(clip_scale=0.5)
    s0 = np.array([0.0, 1.0, 2.0, 3.0])
    sm = np.array([[0.25, 1.0, 3.0, 2.0], [-0.1, 1.4, 2.0, 3.5]])
    f = cf.forward(sm, s0)
    assert np.allclose(f, [[0.5, 0.0, 1.0, -1.0], [-0.2, 0.8, 0.0, 1.0]])  # clipped at +-0.5
    assert f.min() >= -1 and f.max() <= 1
    ft = cf.forward(torch.tensor(sm), torch.tensor(s0))
    assert isinstance(ft, torch.Tensor) and np.allclose(ft.numpy(), f)
    # Inverse recovers every unclipped value exactly.
    back = cf.inverse(f, s0)
    unclipped = np.abs(sm - s0) <= 0.5
    assert np.allclose(back[unclipped], sm[unclipped])
    assert np.allclose(cf.inverse(ft, torch.tensor(s0)).numpy(), back)
    with pytest.raises(ValueError):
        ChemicalFlow(0.0)
    with pytest.raises(ValueError):
        ChemicalFlow(float("nan"))


def test_fit_clip_scale_is_the_quantile_of_abs_delta():
    deltas = np.concatenate([np.linspace(-1.0, 1.0, 2001), [50.0, -80.0]])  # two outliers
    a = ChemicalFlow.fit_clip_scale(deltas, quantile=0.5)
    assert a == pytest.approx(np.quantile(np.abs(deltas), 0.5))
    a999 = ChemicalFlow.fit_clip_scale(torch.tensor(deltas), quantile=0.999)
    assert 0.99 < a999 < 50.0  # the outliers are clipped, the bulk is not
    assert ChemicalFlow.fit(deltas).clip_scale == pytest.approx(a999)
    with pytest.raises(OperandoError, match="zero"):
        ChemicalFlow.fit_clip_scale(np.zeros(10))


# --- L_mass --------------------------------------------------------------------------------------


def test_mass_loss_zero_for_perfect_and_closed_form_otherwise():
    pred, true = flows(0.0)
    assert mass_loss(true.clone(), true).item() == 0.0
    # A constant offset c changes the channel mean by c: loss = c^2.
    assert mass_loss(true + 0.1, true).item() == pytest.approx(0.01)
    # A pure shift keeps the band area (nearly): almost no mass error, but a peak error.
    shifted, _ = flows(5.0)
    assert mass_loss(shifted, true).item() < 1e-8
    assert peak_loss(shifted, true).item() > 0.3


def test_mass_loss_band_regions_and_batch_shapes():
    true = torch.zeros(2, 3, W, dtype=torch.float64)
    pred = true.clone()
    pred[..., :100] += 0.3  # only the first region changes
    masks = region_masks(np.arange(W), [(0, 99), (100, 300)])
    assert masks.shape == (2, W)
    assert mass_loss(pred, true, masks).item() == pytest.approx(0.09)  # (0.3)^2 + 0
    assert mass_loss(pred, true).item() == pytest.approx((0.3 * 100 / W) ** 2)
    with pytest.raises(ValueError, match="no grid point"):
        region_masks(GRID_CM1, [(100.0, 200.0)])


def test_mass_loss_gradient_is_finite_and_points_the_right_way():
    _, true = flows(0.0)
    pred = (true + 0.2).requires_grad_(True)
    mass_loss(pred, true).backward()
    assert torch.isfinite(pred.grad).all() and (pred.grad > 0).all()


def test_mass_residual():
    flow = np.array([[0.1, 0.3], [-0.2, -0.2]])
    assert mass_residual(flow) == pytest.approx((0.2 + 0.2) / 2)
    assert mass_residual(flow, flow) == 0.0
    assert mass_residual(torch.tensor(flow), np.zeros((2, 2))) == pytest.approx(0.2)


# --- L_peak --------------------------------------------------------------------------------------


def test_peak_loss_zero_for_perfect_positive_otherwise():
    _, true = flows(0.0)
    assert peak_loss(true.clone(), true).item() == 0.0
    pred, _ = flows(3.0)
    assert peak_loss(pred, true).item() > 0.0


def test_peak_loss_decreases_as_the_peak_moves_toward_the_target():
    losses = [peak_loss(flows(s)[0], flows(0.0)[1]).item() for s in (7, 5, 3, 2, 1, 0.5, 0)]
    assert all(a > b for a, b in zip(losses, losses[1:])), losses
    assert losses[-1] == 0.0
    # About the displacement in half-windows (soft-argmax slightly under-reads far shifts).
    h = PeakConfig().half_window
    assert losses[2] == pytest.approx(3 / h, rel=0.1)


def test_peak_loss_gradient_moves_the_band_back():
    _, true = flows(0.0)
    shift = torch.tensor(4.0, dtype=torch.float64, requires_grad=True)
    pred = torch.stack([band(100 + shift) - band(200 + shift, 0.3), band(150 + shift, 0.8)])
    loss = peak_loss(pred, true)
    loss.backward()
    assert torch.isfinite(shift.grad) and shift.grad.item() > 0  # descent lowers the shift
    pred_leaf, _ = flows(4.0)
    pred_leaf.requires_grad_(True)
    peak_loss(pred_leaf, true).backward()
    assert torch.isfinite(pred_leaf.grad).all() and pred_leaf.grad.abs().sum() > 0


def test_falling_bands_count_as_peaks():
    rows, cols = target_peaks(flows(0.0)[1])
    assert sorted(zip(rows.tolist(), cols.tolist())) == [(0, 100), (0, 200), (1, 150)]
    # Only the falling band of spectrum 0 shifted: still seen.
    _, true = flows(0.0)
    pred = true.clone()
    pred[0] = band(100) - band(204, 0.3)
    assert peak_loss(pred, true).item() > 0.05


def test_peak_loss_without_peaks_is_zero_and_attached():
    pred = torch.randn(2, W, dtype=torch.float64, requires_grad=True)
    loss = peak_loss(pred, torch.zeros(2, W, dtype=torch.float64))
    assert loss.item() == 0.0
    loss.backward()
    assert pred.grad is not None and torch.all(pred.grad == 0)


def test_peak_loss_is_scale_invariant_and_handles_edges_and_3d_batches():
    _, true = flows(0.0)
    pred, _ = flows(2.0)
    assert peak_loss(3.0 * pred, true).item() == pytest.approx(peak_loss(pred, true).item())
    edge_true = band(2).unsqueeze(0)  # peak 2 points from the grid edge: window is cut
    edge_pred = band(4).unsqueeze(0)
    assert 0 < peak_loss(edge_pred, edge_true).item() < 1
    batch_true = torch.stack([true, true])  # (B=2, T=2, W)
    batch_pred = torch.stack([pred, true])
    assert peak_loss(batch_pred, batch_true).item() == pytest.approx(peak_loss(pred, true).item() / 2)


def test_peak_drift_in_wavenumbers():
    _, true = flows(0.0)
    for shift in (0.0, 1.0, 3.0):
        pred, _ = flows(shift)
        assert peak_drift(pred, true, GRID_CM1) == pytest.approx(2.0 * shift, abs=0.05)
    pred, _ = flows(0.5)  # sub-grid shift: parabolic refinement sees about 1 cm-1
    assert peak_drift(pred.numpy(), true.numpy(), GRID_CM1) == pytest.approx(1.0, abs=0.2)
    assert np.isnan(peak_drift(np.zeros((1, W)), np.zeros((1, W)), GRID_CM1))
    with pytest.raises(ValueError, match="wavenumber"):
        peak_drift(true, true, GRID_CM1[:-1])
