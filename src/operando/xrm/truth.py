"""Ground-truth operando maps of a charging LiCoO2 cathode cross-section, from PyBaMM's DFN model.

Geometry and physics (what was chosen, see ``docs/xrm/design.md``):

* Li-metal half-cell (PyBaMM option ``{"working electrode": "positive"}``): LiCoO2 positive
  electrode, electrolyte conductivity, diffusivity, transference number and thermodynamic factor
  from PyBaMM's ``Ai2020`` set (Valøen-Reimers fits), lithium-metal exchange current from
  ``Xu2019``. The electrode is thickened (default 100 µm) so that salt transport matters.
* A random porosity field eps(depth, lateral) (Gaussian field, smoothed to a correlation length
  in pixels, clipped to [0.15, 0.5]); active-material fraction ``1 - eps - inactive``; tortuosity
  from Bruggeman, ``kappa_eff = kappa(c) eps**b``.
* One DFN column per lateral pixel, the columns electrically in parallel: a reference column of
  mean porosity is charged galvanostatically at the C-rate to the upper cut-off, giving the cell
  voltage V(t); every column is then solved under that voltage (PyBaMM ``operating mode:
  voltage``), so columns share the voltage and split the current as their resistances dictate.
  The applied current density of the map is the mean of the column currents. No ionic current
  flows laterally (columns do not exchange salt).
* Depth pixels are PyBaMM's finite-volume cells in the positive electrode (``n_depth`` of them).

Stored per pixel and frame: SOC, interfacial current, volumetric interfacial current, ionic
current, electrolyte potential, salt concentration, effective conductivity, and what the
residual tests need (solid potential, open-circuit potential, exchange current, thermodynamic
factor).
"""
from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from operando.errors import InputError, OperandoError
from operando.files import open_hdf5
from operando.xrm.mrf import ElectrodeModel
from operando.xrm.physics import F, effective_conductivity, measure_regime

# Names of the per-pixel fields, shaped (frame, depth, lateral), in the HDF5 group "fields".
SOC = "State of charge"
J = "Interfacial current density [A.m-2]"
AJ = "Volumetric interfacial current density [A.m-3]"
IE = "Ionic current density [A.m-2]"
PHI_E = "Electrolyte potential [V]"
C_E = "Salt concentration [mol.m-3]"
KAPPA = "Effective conductivity [S.m-1]"
PHI_S = "Solid potential [V]"
OCP = "Open-circuit potential [V]"
J0 = "Exchange current density [A.m-2]"
TDF = "Thermodynamic factor"
STOICH = "Stoichiometry"
FIELD_NAMES = (SOC, J, AJ, IE, PHI_E, C_E, KAPPA, PHI_S, OCP, J0, TDF, STOICH)
# Per frame, in the group "frames".
TIME = "Time [s]"
VOLTAGE = "Voltage [V]"
CURRENT = "Applied current density [A.m-2]"
COLUMN_CURRENT = "Column current density [A.m-2]"  # (frame, lateral)

_PYBAMM_VARS = {
    STOICH: "R-averaged positive particle stoichiometry",
    J: "Positive electrode interfacial current density [A.m-2]",
    AJ: "Positive electrode volumetric interfacial current density [A.m-3]",
    IE: "Electrolyte current density [A.m-2]",
    PHI_E: "Positive electrolyte potential [V]",
    C_E: "Positive electrolyte concentration [mol.m-3]",
    PHI_S: "Positive electrode potential [V]",
    OCP: "Positive electrode open-circuit potential [V]",
    J0: "Positive electrode exchange current density [A.m-2]",
}


@dataclass
class TruthConfig:
    """One charge of one condition. Every number that shapes the truth lives here (saved with it)."""

    salt_mol_m3: float = 1000.0
    c_rate: float = 1.0
    n_depth: int = 64
    n_lateral: int = 32
    n_frames: int = 24
    thickness_m: float = 100e-6
    porosity_mean: float = 0.32
    porosity_std: float = 0.04
    correlation_px: tuple[float, float] = (4.0, 3.0)  # (depth, lateral)
    inactive_fraction: float = 0.06
    stoich_discharged: float = 0.95  # x in Li_x CoO2 at the start of the charge (SOC 0)
    stoich_charged: float = 0.50  # x at SOC 1 (the nominal capacity)
    upper_cutoff_V: float = 4.2
    max_time_factor: float = 1.3  # simulate at most this x the nominal charge time
    r_points: int = 10
    separator_points: int = 8
    temperature_K: float = 298.15
    seed: int = 0

    def validate(self, where: str | None = None) -> None:
        checks = [
            (self.salt_mol_m3 > 0, "salt_mol_m3 must be positive"),
            (self.c_rate > 0, "c_rate must be positive"),
            (self.n_depth >= 4 and self.n_lateral >= 1, "need n_depth >= 4 and n_lateral >= 1"),
            (self.n_frames >= 2, "need n_frames >= 2"),
            (0 < self.porosity_mean < 1 - self.inactive_fraction, "porosity_mean out of (0, 1 - inactive)"),
            (self.stoich_discharged > self.stoich_charged, "stoich_discharged must exceed stoich_charged"),
        ]
        for ok, msg in checks:
            if not ok:
                raise InputError(where, msg)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict, where: str | None = None) -> "TruthConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise InputError(where, f"unknown truth-config keys {unknown}")
        d = dict(d)
        if "correlation_px" in d:
            d["correlation_px"] = tuple(d["correlation_px"])
        cfg = cls(**d)
        cfg.validate(where)
        return cfg


@dataclass
class Truth:
    """A generated (or loaded) truth: fields (frame, depth, lateral), per-frame records, metadata."""

    config: TruthConfig
    fields: dict[str, np.ndarray]
    frames: dict[str, np.ndarray]
    porosity: np.ndarray  # (depth, lateral)
    dx: float  # pixel depth [m]
    bruggeman: float
    transference: float
    capacity_C_m3: float  # volumetric capacity of the mean-porosity electrode between the SOC ends
    meta: dict = field(default_factory=dict)
    electrode: ElectrodeModel | None = None  # what an inference may know about the material


def porosity_field(cfg: TruthConfig) -> np.ndarray:
    """Random porosity (depth, lateral): smoothed Gaussian field, mean and std from the config."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(cfg.seed)
    g = gaussian_filter(rng.standard_normal((cfg.n_depth, cfg.n_lateral)), sigma=cfg.correlation_px,
                        mode="wrap")
    g = (g - g.mean()) / max(g.std(), 1e-12)
    return np.clip(cfg.porosity_mean + cfg.porosity_std * g, 0.15, 0.5)


def _import_pybamm():
    os.environ.setdefault("PYBAMM_DISABLE_TELEMETRY", "true")
    try:
        import pybamm
    except ImportError as e:  # pragma: no cover - depends on the install
        raise OperandoError("the XRM truth generator needs PyBaMM: pip install 'operando[xrm]'") from e
    return pybamm


def half_cell_parameters(cfg: TruthConfig):
    """PyBaMM parameter values of the LiCoO2 | Li half-cell (Ai2020 cathode and electrolyte)."""
    pybamm = _import_pybamm()
    p = pybamm.ParameterValues("Ai2020")
    xu = pybamm.ParameterValues("Xu2019")
    p.update({k: xu[k] for k in ("Exchange-current density for lithium metal electrode [A.m-2]",
                                 "Lithium metal partial molar volume [m3.mol-1]")},
             check_already_exists=False)
    cmax = p["Maximum concentration in positive electrode [mol.m-3]"]
    p.update({
        "Number of electrodes connected in parallel to make a cell": 1,
        "Positive electrode thickness [m]": cfg.thickness_m,
        "Initial concentration in positive electrode [mol.m-3]": cfg.stoich_discharged * cmax,
        "Initial concentration in electrolyte [mol.m-3]": cfg.salt_mol_m3,
        "Upper voltage cut-off [V]": cfg.upper_cutoff_V,
        "Lower voltage cut-off [V]": 2.5,
        "Initial temperature [K]": cfg.temperature_K,
        "Ambient temperature [K]": cfg.temperature_K,
        "Reference temperature [K]": cfg.temperature_K,
    })
    return p


def electrode_model(cfg: TruthConfig, params=None) -> ElectrodeModel:
    """The material description the MRF may use, evaluated from the same PyBaMM parameters.

    Tables of the LiCoO2 open-circuit potential and of the electrolyte thermodynamic factor, the
    exchange-current constant of ``j0 = k sqrt(c_e c_s (c_max - c_s))`` (the Ai2020/Dualfoil form),
    the solid diffusivity; mean porosity, not the random field.
    """
    pybamm = _import_pybamm()
    p = params if params is not None else half_cell_parameters(cfg)
    T = cfg.temperature_K

    def ev(sym):
        return np.asarray(p.process_symbol(sym).evaluate(), float).ravel()

    xs = np.linspace(0.30, 0.999, 400)
    ocp = ev(p["Positive electrode OCP [V]"](pybamm.Array(xs)))
    cs = np.linspace(20.0, 6000.0, 300)
    tdf_fn = p["Thermodynamic factor"]
    tdf = ev(tdf_fn(pybamm.Array(cs), pybamm.Scalar(T))) if callable(tdf_fn) else np.full_like(cs, float(tdf_fn))
    j0_rate = float(ev(p["Positive electrode exchange-current density [A.m-2]"](
        pybamm.Scalar(1.0), pybamm.Scalar(1.0), pybamm.Scalar(2.0), pybamm.Scalar(T)))[0])
    ds_fn = p["Positive particle diffusivity [m2.s-1]"]
    ds = float(ev(ds_fn(pybamm.Scalar(0.7), pybamm.Scalar(T)))[0]) if callable(ds_fn) else float(ds_fn)
    return ElectrodeModel(
        stoich_discharged=cfg.stoich_discharged, stoich_charged=cfg.stoich_charged,
        c_max_mol_m3=float(p["Maximum concentration in positive electrode [mol.m-3]"]),
        particle_radius_m=float(p["Positive particle radius [m]"]), solid_diffusivity_m2_s=ds,
        j0_rate_A_m2=j0_rate, ocp_stoich=xs.tolist(), ocp_V=ocp.tolist(), tdf_c_mol_m3=cs.tolist(),
        tdf=tdf.tolist(), porosity_mean=cfg.porosity_mean,
        active_fraction_mean=1.0 - cfg.porosity_mean - cfg.inactive_fraction,
        bruggeman=float(p["Positive electrode Bruggeman coefficient (electrolyte)"]),
        transference=float(p["Cation transference number"]), salt_initial_mol_m3=cfg.salt_mol_m3,
        separator_thickness_m=float(p["Separator thickness [m]"]),
        separator_porosity=float(p["Separator porosity"]),
        separator_bruggeman=float(p["Separator Bruggeman coefficient (electrolyte)"]), temperature_K=T)


def _column_porosity(pybamm, x_nodes, eps_column, inactive):
    xg = np.asarray(x_nodes, float)
    eg = np.asarray(eps_column, float)

    def porosity(x, y=None, z=None):
        return pybamm.Interpolant(xg, eg, x, interpolator="linear", extrapolate=True)

    def active(x, y=None, z=None):
        return (1.0 - inactive) - pybamm.Interpolant(xg, eg, x, interpolator="linear", extrapolate=True)

    return porosity, active


def simulate(cfg: TruthConfig, *, progress=None) -> Truth:
    """Solve one condition; return the maps. ``progress(i, n)`` is called after each column."""
    cfg.validate()
    pybamm = _import_pybamm()
    t_start = time.perf_counter()
    base = half_cell_parameters(cfg)
    T = cfg.temperature_K
    cmax = base["Maximum concentration in positive electrode [mol.m-3]"]
    L = cfg.thickness_m
    var_pts = {"x_n": 4, "x_s": cfg.separator_points, "x_p": cfg.n_depth, "r_n": 4, "r_p": cfg.r_points}
    # PyBaMM's own mesh gives the through-cell coordinate of the depth pixels (the half-cell keeps
    # an offset for the absent negative electrode, so do not assume one)
    model_v = pybamm.lithium_ion.DFN(options={"working electrode": "positive", "operating mode": "voltage"})
    geometry = model_v.default_geometry
    base.process_geometry(geometry)
    mesh = pybamm.Mesh(geometry, model_v.default_submesh_types, var_pts)
    x_nodes = np.asarray(mesh["positive electrode"].nodes, float)
    x_edges = np.asarray(mesh["positive electrode"].edges, float)
    dx = float(np.mean(np.diff(x_edges)))
    if x_nodes.size != cfg.n_depth or not np.allclose(np.diff(x_edges), dx, rtol=1e-6):
        raise OperandoError(f"PyBaMM mesh has {x_nodes.size} non-uniform positive cells, expected {cfg.n_depth}")
    area = base["Electrode width [m]"] * base["Electrode height [m]"]
    eps_s_mean = 1.0 - cfg.porosity_mean - cfg.inactive_fraction
    capacity_C_m3 = F * cmax * eps_s_mean * (cfg.stoich_discharged - cfg.stoich_charged)
    i_nominal = cfg.c_rate * capacity_C_m3 * L / 3600.0  # A/m2
    solver_opts = {"num_threads": 1}
    t_max = cfg.max_time_factor * 3600.0 / cfg.c_rate

    # 1) reference column (mean porosity) under the applied current -> cell voltage V(t)
    p_ref = base.copy()
    p_ref.update({"Positive electrode porosity": cfg.porosity_mean,
                  "Positive electrode active material volume fraction": eps_s_mean,
                  "Current function [A]": -i_nominal * area})
    model_i = pybamm.lithium_ion.DFN(options={"working electrode": "positive"})
    t_dense = np.linspace(0.0, t_max, 600)
    try:
        sim = pybamm.Simulation(model_i, parameter_values=p_ref, var_pts=var_pts,
                                solver=pybamm.IDAKLUSolver(options=solver_opts))
        sol = sim.solve([0.0, t_max], t_interp=t_dense)
    except pybamm.SolverError as e:
        raise OperandoError(f"PyBaMM failed on the reference column ({cfg.salt_mol_m3:g} mol/m3, "
                            f"{cfg.c_rate:g}C): {e}") from e
    t_ref = np.asarray(sol.t)
    v_ref = np.asarray(sol["Voltage [V]"].entries)
    t_end = float(t_ref[-1])
    if t_end < 0.05 * 3600.0 / cfg.c_rate:
        raise OperandoError(f"the charge at {cfg.salt_mol_m3:g} mol/m3, {cfg.c_rate:g}C reached the "
                            f"{cfg.upper_cutoff_V} V cut-off after {t_end:.0f} s: no usable charge")
    # frames stop just short of the cut-off, so every column stays inside its solve window
    t_frames = np.linspace(0.0, 0.995 * t_end, cfg.n_frames)

    # 2) every column under that voltage
    eps = porosity_field(cfg)
    vt = np.linspace(0.0, t_end, 400)
    vv = np.interp(vt, t_ref, v_ref)
    shape = (cfg.n_frames, cfg.n_depth, cfg.n_lateral)
    out = {name: np.empty(shape) for name in _PYBAMM_VARS}
    col_current = np.empty((cfg.n_frames, cfg.n_lateral))
    voltage = None
    for c in range(cfg.n_lateral):
        p = base.copy()
        por, act = _column_porosity(pybamm, x_nodes, eps[:, c], cfg.inactive_fraction)
        p.update({"Positive electrode porosity": por, "Positive electrode active material volume fraction": act})
        p.update({"Voltage function [V]": lambda t: pybamm.Interpolant(vt, vv, t, interpolator="linear")},
                 check_already_exists=False)
        try:
            sim = pybamm.Simulation(model_v, parameter_values=p, var_pts=var_pts,
                                    solver=pybamm.IDAKLUSolver(options=solver_opts))
            sol = sim.solve([0.0, float(t_frames[-1])], t_interp=t_frames)
        except pybamm.SolverError as e:
            raise OperandoError(f"PyBaMM failed on column {c} ({cfg.salt_mol_m3:g} mol/m3, "
                                f"{cfg.c_rate:g}C): {e}") from e
        if len(sol.t) != cfg.n_frames or not np.allclose(sol.t, t_frames):
            raise OperandoError(f"column {c} stopped at {sol.t[-1]:.0f} s before the last frame "
                                f"({t_frames[-1]:.0f} s)")
        for name, var in _PYBAMM_VARS.items():
            v = np.asarray(sol[var].entries)
            if v.shape[0] > cfg.n_depth:  # whole-cell variable: keep the positive electrode
                v = v[-cfg.n_depth:]
            out[name][:, :, c] = v.T
        col_current[:, c] = np.asarray(sol["Current [A]"].entries) / area
        # PyBaMM reports the ionic current on the collector-side face of each cell; the map holds
        # the pixel-centre value, the mean of the cell's two faces (separator face: the column current)
        faces = out[IE][:, :, c]
        sep_face = np.concatenate([col_current[:, c:c + 1], faces[:, :-1]], axis=1)
        out[IE][:, :, c] = 0.5 * (sep_face + faces)
        if voltage is None:
            voltage = np.asarray(sol["Voltage [V]"].entries)
        if progress is not None:
            progress(c + 1, cfg.n_lateral)

    bruggeman = float(base["Positive electrode Bruggeman coefficient (electrolyte)"])
    transference = float(base["Cation transference number"])
    c_e = out[C_E]
    tdf_fn = base["Thermodynamic factor"]
    tdf = np.asarray(base.process_symbol(tdf_fn(pybamm.Array(c_e.ravel()), pybamm.Scalar(T))).evaluate()).reshape(c_e.shape) \
        if callable(tdf_fn) else np.full_like(c_e, float(tdf_fn))
    fields = dict(out)
    fields[SOC] = (cfg.stoich_discharged - out[STOICH]) / (cfg.stoich_discharged - cfg.stoich_charged)
    fields[KAPPA] = effective_conductivity(c_e, eps[None], bruggeman, T)
    fields[TDF] = tdf
    frames = {TIME: t_frames, VOLTAGE: voltage, CURRENT: col_current.mean(axis=1), COLUMN_CURRENT: col_current}
    meta = {"pybamm_version": pybamm.__version__, "seconds": time.perf_counter() - t_start,
            "nominal_current_density_A_m2": -i_nominal, "reference_end_time_s": t_end,
            "regime": measure_regime(fields[SOC], fields[AJ])}
    return Truth(cfg, fields, frames, eps, dx, bruggeman, transference, capacity_C_m3, meta,
                 electrode_model(cfg, base))



def write_truth(path: str | Path, truth: Truth) -> Path:
    """Write a truth to HDF5 atomically (nothing is left behind on failure)."""
    import h5py

    from operando.atomic import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as h:
            h.attrs["format"] = "operando.xrm.truth/1"
            h.attrs["config"] = truth.config.to_json()
            h.attrs["meta"] = json.dumps(truth.meta, sort_keys=True)
            if truth.electrode is not None:
                h.attrs["electrode"] = truth.electrode.to_json()
            for k in ("dx", "bruggeman", "transference", "capacity_C_m3"):
                h.attrs[k] = float(getattr(truth, k))
            g = h.create_group("fields")
            for name, arr in truth.fields.items():
                g.create_dataset(name, data=np.asarray(arr, np.float64), compression="gzip", compression_opts=4)
            g = h.create_group("frames")
            for name, arr in truth.frames.items():
                g.create_dataset(name, data=np.asarray(arr, np.float64))
            h.create_dataset("Porosity", data=truth.porosity)
    return path


def read_truth(path: str | Path) -> Truth:
    """Read a truth written by :func:`write_truth`; malformed files raise one :class:`InputError`."""
    path = Path(path)
    with open_hdf5(path) as h:
        if h.attrs.get("format") != "operando.xrm.truth/1":
            raise InputError(path, "not an operando.xrm truth file (attribute 'format' missing or different)")
        try:
            cfg = TruthConfig.from_dict(json.loads(h.attrs["config"]), where=str(path))
            fields = {name: np.asarray(h["fields"][name]) for name in FIELD_NAMES}
            frames = {name: np.asarray(h["frames"][name]) for name in (TIME, VOLTAGE, CURRENT, COLUMN_CURRENT)}
            porosity = np.asarray(h["Porosity"])
            scalars = {k: float(h.attrs[k]) for k in ("dx", "bruggeman", "transference", "capacity_C_m3")}
            meta = json.loads(h.attrs.get("meta", "{}"))
            electrode = (ElectrodeModel.from_json(h.attrs["electrode"], where=str(path))
                         if "electrode" in h.attrs else None)
        except KeyError as e:
            raise InputError(path, f"missing entry {e}") from e
    shape = (cfg.n_frames, cfg.n_depth, cfg.n_lateral)
    for name, arr in fields.items():
        if arr.shape != shape:
            raise InputError(path, f"shape {arr.shape} but the config says {shape}", field=name)
        if not np.all(np.isfinite(arr)):
            raise InputError(path, "contains NaN or infinite values", field=name)
    for name in (TIME, VOLTAGE, CURRENT):
        if frames[name].shape != (cfg.n_frames,):
            raise InputError(path, f"{frames[name].shape[0] if frames[name].ndim else 0} frames recorded, "
                                   f"maps have {cfg.n_frames}", field=name)
    return Truth(cfg, fields, frames, porosity, meta=meta, electrode=electrode, **scalars)
