"""Figures: each writes a PNG, spectral axes run high -> low cm-1, labels carry units."""
from __future__ import annotations

import numpy as np
import pytest

from operando.plots import plot_decomposition, plot_difference, plot_forecast_vs_true, plot_heatmap, plot_waterfall
from operando.plots.common import evenly_spaced_indices

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def sequence():
    wavenumber_cm1 = np.linspace(800.0, 1900.0, 111)
    time_s = np.linspace(0.0, 5 * 3600.0, 30)
    voltage_v = np.linspace(3.0, 0.05, 30)
    grow = np.linspace(0.0, 1.0, 30)[:, None]
    band = lambda c, w: np.exp(-0.5 * ((wavenumber_cm1 - c) / w) ** 2)  # noqa: E731
    absorbance = band(1800, 10) * (1 - 0.5 * grow) + band(1650, 15) * grow + band(870, 6) * grow**2
    return wavenumber_cm1, time_s, voltage_v, absorbance


def spectral_axes(fig):
    return [ax for ax in fig.axes if ax.get_xlabel() == "Wavenumber [cm-1]"]


def check_png(path):
    assert path.exists() and path.read_bytes()[:8] == PNG_MAGIC
    assert not list(path.parent.glob(".*.tmp"))  # no temporary file left behind


def check_spectral_axes(fig, wavenumber_cm1, expected):
    axes = spectral_axes(fig)
    assert len(axes) == expected
    for ax in axes:
        assert ax.xaxis_inverted()
        left, right = ax.get_xlim()
        assert left == pytest.approx(wavenumber_cm1.max()) and right == pytest.approx(wavenumber_cm1.min())
    return axes


def all_labels(fig):
    labels = []
    for ax in fig.axes:
        labels += [ax.get_xlabel(), ax.get_ylabel()]
    return labels


def test_heatmap(sequence, tmp_path):
    wn, t, v, a = sequence
    path = tmp_path / "heatmap.png"
    fig = plot_heatmap(wn, t, a, v, path=path)
    check_png(path)
    check_spectral_axes(fig, wn, 1)
    labels = all_labels(fig)
    assert "Absorbance [a.u.]" in labels and "Voltage [V]" in labels and "Time [h]" in labels
    # Voltage panel shares the time axis with the heatmap.
    heat = spectral_axes(fig)[0]
    volt = next(ax for ax in fig.axes if ax.get_xlabel() == "Voltage [V]")
    assert heat.get_ylim() == volt.get_ylim()
    # Difference mode, non-uniform time grid (pcolormesh path), descending wavenumbers.
    t_uneven = t**1.3 / (t.max() ** 0.3)
    fig = plot_heatmap(wn[::-1], t_uneven, a[:, ::-1], v, difference=True, path=tmp_path / "d.png")
    check_png(tmp_path / "d.png")
    check_spectral_axes(fig, wn, 1)
    assert any(lbl.startswith("ΔAbsorbance") for lbl in all_labels(fig))
    # The colour scale spans the change from the given reference, not from the first row.
    reference = a[0] - 0.5
    fig = plot_heatmap(wn, t, a, v, difference=True, reference=reference)
    mesh = spectral_axes(fig)[0].get_images() or spectral_axes(fig)[0].collections
    shown = np.asarray(mesh[0].get_array(), dtype=np.float64)
    assert np.isclose(np.abs(shown).max(), np.abs(a - reference).max())


def test_waterfall(sequence, tmp_path):
    wn, t, v, a = sequence
    path = tmp_path / "waterfall.png"
    fig = plot_waterfall(wn, a, v, labels=[f"{x:.2f} V" for x in v], n_traces=12, path=path)
    check_png(path)
    (ax,) = check_spectral_axes(fig, wn, 1)
    assert len(ax.lines) == 12
    assert "Absorbance [a.u.]" in ax.get_ylabel()
    assert "Voltage [V]" in all_labels(fig)  # colourbar
    # Traces are stacked with the given offset, first spectrum at the bottom.
    fig = plot_waterfall(wn, a, v, n_traces=3, offset=2.0)
    ax = spectral_axes(fig)[0]
    middle = evenly_spaced_indices(len(a), 3)[1]
    assert 13 <= middle <= 15
    np.testing.assert_allclose(ax.lines[0].get_ydata(), a[0])
    np.testing.assert_allclose(ax.lines[1].get_ydata() - 2.0, a[middle], atol=1e-12)


def test_difference(sequence, tmp_path):
    wn, t, v, a = sequence
    path = tmp_path / "difference.png"
    fig = plot_difference(wn, a, v, time_s=t, n_traces=6, path=path)
    check_png(path)
    (ax,) = check_spectral_axes(fig, wn, 1)
    assert ax.get_ylabel().startswith("ΔAbsorbance")
    texts = [txt.get_text() for txt in ax.texts]
    # Li2CO3's two spans (same colour) carry one label, not a second one squeezed into 860-880 cm-1
    assert "semi-carbonates" in texts and texts.count("Li2CO3") == 1
    assert not any(txt.get_rotation() for txt in ax.texts)
    # The last trace is the last spectrum minus the first.
    np.testing.assert_allclose(ax.lines[-1].get_ydata(), a[-1] - a[0])


def test_forecast_vs_true(sequence, tmp_path):
    wn, t, v, a = sequence
    path = tmp_path / "forecast.png"
    fig = plot_forecast_vs_true(wn, a, a * 1.05, a * 0.9, a * 1.1, v, time_s=t, path=path)
    check_png(path)
    axes = check_spectral_axes(fig, wn, 3)
    assert axes[0].get_ylabel() == "Absorbance [a.u.]"
    assert axes[0].get_title().startswith("beginning") and "3 V" in axes[0].get_title()
    assert axes[2].get_title().startswith("end")
    assert all(len(ax.collections) == 1 for ax in axes)  # the shaded interval
    with pytest.raises(ValueError):
        plot_forecast_vs_true(wn, a, a[:, :-1])


def test_decomposition(sequence, tmp_path):
    wn, t, v, a = sequence
    S = np.stack([a[0], a[-1] - a[0] * 0.5])
    C = np.stack([np.linspace(1, 0.5, len(t)), np.linspace(0, 1, len(t))], axis=1)
    path = tmp_path / "decomposition.png"
    fig = plot_decomposition(wn, S, C, t, v, ["electrolyte", "SEI"], path=path)
    check_png(path)
    (ax_s,) = check_spectral_axes(fig, wn, 1)
    assert "Absorbance [a.u.]" in ax_s.get_ylabel()
    labels = all_labels(fig)
    assert "Time [h]" in labels and "Voltage [V]" in labels
    assert [line.get_label() for line in ax_s.lines] == ["electrolyte", "SEI"]
    with pytest.raises(ValueError):
        plot_decomposition(wn, S, C, t, v, ["only one name"])


def test_failed_save_leaves_nothing(sequence, tmp_path):
    wn, t, v, a = sequence
    with pytest.raises(ValueError):
        plot_waterfall(wn, a, v, path=tmp_path / "figure.unknownformat")
    assert list(tmp_path.iterdir()) == []
