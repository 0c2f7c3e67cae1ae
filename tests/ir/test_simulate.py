"""Tests of the OpIRSpec-7K-sim simulator (operando.ir.simulate).

The whole dataset is simulated once per module (a few seconds); cheaper checks use single cells.
"""
from __future__ import annotations

import re

import numpy as np
import pytest

from operando.cli.main import main as cli_main
from operando.ir.data.dataset import OperandoDataset
from operando.ir.simulate import (
    BAND_LIBRARY,
    COMPONENT_NAMES,
    NATIVE_WAVENUMBER_CM1,
    SEI_REACTIONS,
    TOTAL_SPECTRA,
    all_cells,
    bulk_composition,
    dataset_from_cells,
    simulate_calibration,
    simulate_cells,
    simulate_dataset,
    solvation,
)
from operando.ir.simulate.bands import component_spectra
from operando.ir.simulate.cell import SOLVENTS
from operando.ir.simulate.chemistry import REACTION_BY_PRODUCT, SEI_COMPONENTS, SOLVATING
from operando.ir.simulate.spectra import CORRELATED_NOISE_LENGTH_CM1, CORRELATED_NOISE_RATIO, add_noise, render
from operando.noise import estimate_snr

PAPER_COUNTS = {
    "Cu|1 M LiPF6 in DMC|Li": 693,
    "LTO|1 M LiPF6 in EC:DMC (1:1 w/w)|Li": 661,
    "Cu|1 M LiPF6 in EC:DMC (1:1 w/w)|Li": 749,
    "Sn|1 M LiPF6 in EC:DMC (1:1 w/w)|Li": 767,
    "intermittent LTO/SuperP (90/10)|1 M LiPF6 in EC:DMC (1:1 w/w)|Li": 2286,
    "Cu|1 M LiPF6 in EC:DMC (1:1 w/w) + 2% VC|Li": 612,
    "Cu|1 M LiPF6 in EMC|Li": 14,
    "Cu|1 M LiPF6 in 0.3 EC + 0.7 EMC|Li": 14,
    "intermittent CoO/SuperP (90/10)|1 M LiPF6 in EC:DMC (1:1 w/w)|Li": 1308,
    "Cu|1.2 M LiPF6 in EC|Li": 14,
}
SMILES = {"LiPF6": "[Li+].F[P-](F)(F)(F)(F)F", "EC": "C1COC(=O)O1", "DMC": "COC(=O)OC", "EMC": "CCOC(=O)OC",
          "VC": "C1=COC(=O)O1"}


@pytest.fixture(scope="module")
def cells():
    return {c.experiment.name: c for c in simulate_cells(0)}


@pytest.fixture(scope="module")
def dataset(cells) -> OperandoDataset:
    return dataset_from_cells(list(cells.values()), 0)


def _total(conc: np.ndarray, solvent: str) -> np.ndarray:
    """Total (free + Li+-coordinated) concentration of a solvent from truth concentrations."""
    cols = [COMPONENT_NAMES.index(solvent)]
    if solvent in SOLVATING:
        cols.append(COMPONENT_NAMES.index(f"{solvent}-Li+"))
    return conc[:, cols].sum(axis=1)


# --------------------------------------------------------------------------------- dataset layout

def test_exact_counts_per_system_and_total(dataset):
    counts = {s: sum(len(e) for e in exps) for s, exps in dataset.systems().items()}
    assert counts == PAPER_COUNTS
    assert dataset.n_spectra == TOTAL_SPECTRA == 7118
    assert dataset.simulated is True and "SIMULATED" in dataset.description


def test_experiments_are_whole_cells_with_valid_metadata(dataset):
    for system, exps in dataset.systems().items():
        if PAPER_COUNTS[system] > 14:
            assert len(exps) >= 2, system
            assert all(100 <= len(e) <= 400 for e in exps), system
        else:
            assert len(exps) == 1 and len(exps[0]) == 14
    for e in dataset:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*-\d", e.name), e.name
        m = e.meta
        assert m.counter_electrode == "Li" and m.protocol in ("galvanostatic", "intermittent")
        assert m.system in PAPER_COUNTS and m.extra["system"] == m.system
        assert m.protocol == ("intermittent" if m.system.startswith("intermittent") else "galvanostatic")
        el = m.electrolyte
        assert el.salt.smiles == SMILES["LiPF6"] and el.fraction_basis == "weight"
        assert abs(sum(s.amount for s in el.solvents) - 1.0) < 1e-9
        for c in el.solvents + el.additives:
            assert c.smiles == SMILES[c.name]
        if "VC" in m.system:
            assert [(a.name, a.amount) for a in el.additives] == [("VC", 2.0)]


def test_native_grid_and_absorbance_magnitudes(dataset):
    wn = NATIVE_WAVENUMBER_CM1
    assert np.all(np.diff(wn) > 0) and wn[0] <= 800 and wn[-1] >= 2000 and wn[0] >= 690 and wn[-1] <= 2110
    assert np.allclose(np.diff(wn), 15798.0 / 8192)
    for e in dataset:
        assert np.array_equal(e.wavenumber_cm1, wn)
        assert np.all(np.diff(e.time_s) >= 0)
        assert np.isfinite(e.absorbance).all() and np.isfinite(e.voltage_v).all()
        assert 0.3 <= e.truth.noiseless.max() <= 1.0, e.name  # strongest bands of ATR spectra


def test_current_sign_convention(cells):
    # Cu cells: lithiation (negative current) first, during which the voltage falls to ~0 V.
    tr = cells["cu-ecdmc-1"].full_trace
    first = np.nonzero(tr.current_ma)[0][0]
    assert tr.current_ma[first] < 0
    lithiating = tr.current_ma < 0
    assert tr.voltage_v[lithiating].min() < 0.05 and tr.voltage_v[0] > 2.5
    assert (tr.current_ma > 0).any()  # delithiation (stripping) later


def test_voltage_level_sampling_of_short_experiments(dataset):
    e = dataset["cu-emc-1"]
    assert e.voltage_v[0] > 2.5
    assert np.allclose(e.voltage_v[1:], (2.5, 2.0, 1.6, 1.4, 1.2, 1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.3, 0.05),
                       atol=0.02)


# -------------------------------------------------------------------------- seeds and subsets

def test_deterministic_for_a_seed_and_different_for_another(dataset):
    names = ["cu-ec-1", "lto-ecdmc-2"]
    a = simulate_dataset(0, experiments=names)
    b = simulate_dataset(0, experiments=names)
    c = simulate_dataset(1, experiments=names)
    for name in names:
        assert np.array_equal(a[name].absorbance, b[name].absorbance)
        assert np.array_equal(a[name].truth.concentrations, b[name].truth.concentrations)
        # a subset is bitwise the same as the same cells in the full dataset
        assert np.array_equal(a[name].absorbance, dataset[name].absorbance)
        assert np.array_equal(a[name].voltage_v, dataset[name].voltage_v)
        assert not np.array_equal(a[name].absorbance, c[name].absorbance)
    assert simulate_dataset(0, systems=["Cu|1 M LiPF6 in EMC|Li"]).names == ["cu-emc-1"]
    with pytest.raises(KeyError):
        simulate_dataset(0, experiments=["no-such-cell-1"])


def test_hdf5_round_trip(tmp_path):
    ds = simulate_dataset(0, experiments=["cu-ec3emc7-1"])
    back = OperandoDataset.load(ds.save(tmp_path / "sim.h5"))
    e, f = ds["cu-ec3emc7-1"], back["cu-ec3emc7-1"]
    assert back.simulated and f.system == e.system
    assert np.array_equal(e.absorbance, f.absorbance)  # stored as float32 already
    assert np.array_equal(e.truth.concentrations, f.truth.concentrations)
    assert f.truth.component_names == list(COMPONENT_NAMES)


# ---------------------------------------------------------------------------------- physics

def test_mass_balance_of_every_product_against_its_parent(cells):
    for name, cell in cells.items():
        conc = cell.experiment.truth.concentrations
        parents = cell.trace.parents
        assert parents, name
        for solvent in SOLVENTS:
            children = [p for p, parent in parents.items() if parent == solvent]
            consumed = _total(conc, solvent)[0] - _total(conc, solvent)
            expected = np.zeros(len(conc))
            for p in children:
                i = SEI_COMPONENTS.index(p)
                made = conc[:, COMPONENT_NAMES.index(p)] + cell.trace.decomposed_molar[:, i]
                expected += REACTION_BY_PRODUCT[p].stoichiometry * made
            np.testing.assert_allclose(consumed, expected, rtol=0, atol=1e-9, err_msg=f"{name} {solvent}")
        # Only the gel of catalytic CoO decomposes again; everything else is irreversible.
        reversible = cell.trace.decomposed_molar.max(axis=0) > 0
        assert not reversible.any() or (name.startswith("coo") and SEI_COMPONENTS[int(np.argmax(reversible))] == "gel")
    # LEDC takes two EC per molecule: its growth shows up as twice as much EC lost.
    conc = cells["cu-ec-1"].experiment.truth.concentrations
    ledc = conc[-1, COMPONENT_NAMES.index("LEDC")]
    assert ledc > 0.1
    assert _total(conc, "EC")[0] - _total(conc, "EC")[-1] >= 2 * ledc


def test_gel_film_is_partly_reversible_on_cobalt_oxide(cells):
    tr = cells["coo-superp-gitt-1"].full_trace
    gel = tr.products_molar[:, SEI_COMPONENTS.index("gel")]
    assert gel.max() > 0.1
    assert 0.2 * gel.max() < gel[-1] < 0.8 * gel.max()  # partly gone after charging to 3 V
    assert tr.voltage_v[np.argmax(gel)] < 2.0 < tr.voltage_v.max()


def test_polarisation_relaxes_back_after_rest(cells):
    cell = cells["lto-superp-gitt-1"]
    tr = cell.full_trace
    tau = cell.variation.physics.polarisation_tau_s
    on = tr.current_ma != 0
    starts = np.nonzero(on[1:] & ~on[:-1])[0] + 1
    ends = np.nonzero(~on[1:] & on[:-1])[0] + 1  # first rest record after each pulse
    checked = 0
    for start in starts:
        stop = ends[ends > start]
        nxt = starts[starts > start]
        if not stop.size or not nxt.size:
            continue
        pre, end_pulse, end_rest = start - 1, stop[0] - 1, nxt[0] - 1
        totals = {s: tr.solvent_molar[[pre, end_pulse, end_rest], SOLVENTS.index(s)] for s in SOLVATING}
        bound = solvation(tr.salt_molar[[pre, end_pulse, end_rest]], totals)
        frac = bound["EC"] / totals["EC"]
        assert abs(tr.salt_molar[end_pulse] - tr.salt_molar[pre]) > 0.05  # current polarises the salt
        assert abs(frac[1] - frac[0]) > 0.01
        assert abs(tr.salt_molar[end_rest] - tr.salt_molar[pre]) < 0.01  # ...and it relaxes back
        assert abs(frac[2] - frac[0]) < 0.002
        # first-order relaxation with the cell's time constant
        i0, i1 = stop[0], stop[0] + 10
        ratio = (tr.salt_molar[i1] - 1.0) / (tr.salt_molar[i0] - 1.0)
        assert ratio == pytest.approx(np.exp(-(tr.time_s[i1] - tr.time_s[i0]) / tau), rel=1e-9)
        checked += 1
    assert checked >= 10


def _onset_voltage(trace, product: str, threshold: float = 0.01) -> float:
    amount = trace.products_molar[:, SEI_COMPONENTS.index(product)]
    first = np.nonzero(amount > threshold)[0]
    assert first.size, product
    return float(trace.voltage_v[first[0]])


def test_onset_ordering_vc_before_ec_before_linear_carbonates(cells):
    for name in ("cu-ecdmc-vc-1", "cu-ecdmc-vc-2"):
        tr = cells[name].full_trace
        vc, ec, dmc = (_onset_voltage(tr, p) for p in ("polyVC", "LEDC", "LMC"))
        assert vc > 1.0 and vc > ec > dmc, (name, vc, ec, dmc)
    for name in ("cu-ecdmc-1", "cu-ecdmc-2", "cu-ecdmc-3"):
        tr = cells[name].full_trace
        assert 0.5 < _onset_voltage(tr, "LEDC") < 0.85
        assert _onset_voltage(tr, "LEDC") > _onset_voltage(tr, "LMC") + 0.05
    onsets = {r.product: r.onset_for("EC" if r.parent in ("EC", "carbonate") else "DMC" if r.parent == "linear"
                                     else r.parent) for r in SEI_REACTIONS}
    assert onsets["polyVC"] > onsets["LEDC"] > onsets["LMC"]


def test_lto_forms_far_less_sei_than_cu(cells):
    def sei_total(name):
        conc = cells[name].experiment.truth.concentrations
        return conc[-1, [COMPONENT_NAMES.index(p) for p in SEI_COMPONENTS]].sum()

    lto = [sei_total(f"lto-ecdmc-{i}") for i in (1, 2, 3)]
    cu = [sei_total(f"cu-ecdmc-{i}") for i in (1, 2, 3)]
    assert max(lto) < 0.1 * min(cu)
    assert min(lto) > 0  # but some carbonate still forms on LTO
    # CoO conversion (large area, catalytic gel) forms more SEI than shallow LTO/SuperP cycling
    assert sei_total("coo-superp-gitt-1") > 10 * sei_total("lto-superp-gitt-1")


def test_sn_cracking_renews_sei_growth(cells):
    tr = cells["sn-ecdmc-1"].full_trace
    sei = tr.products_molar.sum(axis=1)
    phases = np.sign(tr.current_ma)
    lith = np.nonzero(phases < 0)[0]
    second = lith[lith > np.nonzero(phases > 0)[0][-1]]  # the second lithiation
    delith = np.nonzero(phases > 0)[0]
    growth_second = sei[second[-1]] - sei[second[0]]
    growth_delith = sei[delith[-1]] - sei[delith[0]]
    assert growth_second > 0.1 and growth_second > 5 * growth_delith


def test_snr_like_the_measured_cell(dataset):
    """estimate_snr in the 800-2000 cm-1 window: about 900, the measured operando cell of issue 34."""
    inside = (NATIVE_WAVENUMBER_CM1 >= 800) & (NATIVE_WAVENUMBER_CM1 <= 2000)
    snr_window = np.concatenate([estimate_snr(e.absorbance[:, inside]) for e in dataset])
    assert abs(np.median(snr_window) / 900.0 - 1) < 0.15
    assert 0.15 < np.std(np.log(snr_window)) < 0.8  # a spread of SNRs, not one value


def test_noise_is_white_plus_an_equal_smooth_part():
    wn = np.asarray(NATIVE_WAVENUMBER_CM1)
    ramp = np.tile(np.clip((wn - 800.0) / 1200.0, 0.0, 1.0), (400, 1))  # a peak-to-peak of ~1 inside the window
    noisy, target = add_noise(ramp, wn, np.random.default_rng(0), snr_median=100.0, snr_log_sd=0.0)
    noise = noisy.astype(np.float64) - ramp
    white = 0.998 / 100.0  # the true SNR: peak-to-peak over the white part's sd
    np.testing.assert_allclose(target, 100.0)
    assert np.std(noise) == pytest.approx(white * np.sqrt(1 + CORRELATED_NOISE_RATIO ** 2), rel=0.05)
    lag = int(round(CORRELATED_NOISE_LENGTH_CM1 / np.mean(np.diff(wn))))
    corr = np.mean(noise[:, lag:] * noise[:, :-lag]) / np.var(noise)
    assert 0.2 < corr < 0.6  # the smooth half stays correlated over its length, the white half does not


def test_truth_is_linear_model_plus_baseline_up_to_small_shifts(dataset):
    x = (NATIVE_WAVENUMBER_CM1 - 1400.0) / 1000.0
    design = np.column_stack([np.ones_like(x), x])
    for e in dataset:
        t = e.truth
        assert t.component_names == list(COMPONENT_NAMES) and set(t.component_kinds) == {"bulk", "sei"}
        assert t.component_spectra.shape == (len(COMPONENT_NAMES), len(x))
        assert t.concentrations.shape == (len(e), len(COMPONENT_NAMES)) and (t.concentrations >= 0).all()
        model = t.concentrations @ t.component_spectra.astype(np.float64)
        rest = np.empty_like(model)
        for m, row in enumerate(t.noiseless.astype(np.float64)):  # per spectrum: contact gain + baseline
            full = np.column_stack([model[m], design])
            coef, *_ = np.linalg.lstsq(full, row, rcond=None)
            rest[m] = row - full @ coef
            assert abs(coef[0] - 1) < 0.15, e.name  # the contact drift is a few per cent
        assert np.abs(rest).max() < 0.03 * t.noiseless.max(), e.name  # only the salt-dependent shifts
        # the white noise is what separates measurement from truth
        assert np.std(e.absorbance - t.noiseless) > 0


def test_linear_model_is_exact_without_shift_and_shift_expansion_is_accurate():
    rng = np.random.default_rng(3)
    conc = rng.uniform(0, 2, (4, len(COMPONENT_NAMES)))
    offset, slope = rng.normal(0, 0.01, 4), rng.normal(0, 0.01, 4)
    noiseless, spectra = render(conc, np.full(4, 1.0), 1.07, offset, slope)  # 1 M = reference: no shift
    x = (NATIVE_WAVENUMBER_CM1 - 1400.0) / 1000.0
    expected = conc @ spectra + offset[:, None] + slope[:, None] * x[None, :]
    np.testing.assert_allclose(noiseless, expected, rtol=0, atol=1e-12)
    # 2.0 M shifts EC-Li+ by -2.5 cm-1: polynomial shift expansion vs exact band positions
    one = np.zeros((1, len(COMPONENT_NAMES)))
    one[0, COMPONENT_NAMES.index("EC-Li+")] = 1.0
    shifted, _ = render(one, np.array([2.0]), 1.0, np.zeros(1), np.zeros(1))
    exact = component_spectra(["EC-Li+"], NATIVE_WAVENUMBER_CM1, shift_cm1=-2.5)[0]
    assert np.abs(shifted[0] - exact).max() < 0.005 * exact.max()


# ------------------------------------------------------------------------ chemistry building blocks

def test_electrolyte_composition_and_preferential_solvation():
    ds_meta = simulate_dataset(0, experiments=["cu-ec-1"])["cu-ec-1"].meta
    comp = bulk_composition(ds_meta.electrolyte)
    assert comp["LiPF6"] == 1.2 and 12.0 < comp["EC"] < 15.0 and comp["DMC"] == 0.0
    from operando.ir.data.experiment import Electrolyte
    lp30 = Electrolyte.from_dict({"salt": {"name": "LiPF6", "smiles": SMILES["LiPF6"], "molarity": 1.0},
                                  "solvents": [{"name": "EC", "smiles": SMILES["EC"], "fraction": 0.5},
                                               {"name": "DMC", "smiles": SMILES["DMC"], "fraction": 0.5}],
                                  "fraction_basis": "weight"})
    comp = bulk_composition(lp30)
    assert comp["EC"] * 88.06 == pytest.approx(comp["DMC"] * 90.08)  # 1:1 by weight
    assert 5.5 < comp["EC"] < 7.0
    bound = solvation(np.array([1.0]), {"EC": comp["EC"], "DMC": comp["DMC"]})
    assert bound["EC"][0] + bound["DMC"][0] == pytest.approx(4.0, rel=1e-3)  # solvation number 4
    assert bound["EC"][0] / comp["EC"] > 2 * bound["DMC"][0] / comp["DMC"]  # EC preferred
    none = solvation(np.array([0.0]), {"EC": comp["EC"], "DMC": comp["DMC"]})
    assert none["EC"][0] == 0.0


def test_band_library_positions():
    def centers(name):
        return [b.center_cm1 for b in BAND_LIBRARY[name]]

    def has(name, lo, hi):
        return any(lo <= c <= hi for c in centers(name))

    assert set(COMPONENT_NAMES) <= set(BAND_LIBRARY)
    assert has("EC", 1765, 1805) and has("EC-Li+", 1740, 1765) and has("EC", 890, 896) and has("EC-Li+", 900, 908)
    assert has("DMC", 1745, 1755) and has("DMC-Li+", 1715, 1725)
    assert has("DMC", 1265, 1275) and has("DMC-Li+", 1295, 1315)
    assert has("PF6-", 835, 845) and has("LMC", 1345, 1365) and has("semicarbonate", 1630, 1650)
    assert has("LEDC", 1640, 1660) and has("Li2CO3", 1420, 1510) and has("polyVC", 1800, 1830)
    for name, bands in BAND_LIBRARY.items():
        assert max(b.relative_intensity for b in bands) == 1.0, name
        assert all(700 <= b.center_cm1 <= 2100 and b.fwhm_cm1 > 0 and b.reference for b in bands), name


# ------------------------------------------------------------------------------ calibration + CLI

def test_calibration_set_is_static_and_separate():
    cal = simulate_calibration(0)
    operando_names = {c.name for c in all_cells()}
    assert cal.simulated and not (set(cal.names) & operando_names)
    salts, references = set(), []
    for e in cal:
        assert e.meta.protocol == "static" and np.all(e.voltage_v == 3.0) and np.all(e.current_ma == 0)
        assert e.truth is not None and len(e) >= 1
        if e.name.startswith("ref-"):
            nonzero = np.nonzero(e.truth.concentrations.max(axis=0))[0]
            references.append(COMPONENT_NAMES[int(nonzero[0])])
            assert len(nonzero) == 1  # the product alone
        else:
            salts.add(e.meta.electrolyte.salt.amount)
            pf6 = e.truth.concentrations[:, COMPONENT_NAMES.index("PF6-")]
            assert np.allclose(pf6, e.meta.electrolyte.salt.amount)
    assert sorted(references) == sorted(SEI_COMPONENTS)
    assert min(salts) == 0.0 and max(salts) == 2.0
    assert np.array_equal(simulate_calibration(0)["cal-dmc-1.00M"].absorbance, cal["cal-dmc-1.00M"].absorbance)


def test_cli_writes_calibration_file(tmp_path, capsys):
    out = tmp_path / "cal.h5"
    assert cli_main(["ir", "simulate", "-o", str(out), "--calibration", "--seed", "2"]) == 0
    printed = capsys.readouterr().out
    back = OperandoDataset.load(out)
    assert f"total: {back.n_spectra} spectra" in printed and "time:" in printed
    assert back.simulated and "seed=2" in back.description
    assert cli_main(["ir", "simulate", "-o", str(out), "--seed", "-1"]) == 1
