"""The results page is rendered from a record; goal checks and orderings follow the numbers."""
from __future__ import annotations

from operando.xrm.bench import kappa_ordering, render_results


def _row(salt, c_rate, k_true, k_est, prnn=0.05, fit=0.12):
    m = {"j_rel_l2": 0.01, "ionic_rel_l2": 0.03, "phi_e_rel_l2": 0.07, "log_kappa_err_median": 0.2,
         "log_kappa_err_mean": 0.25, "kappa_true_mean": k_true, "kappa_est_mean": k_est, "j_within_2sd": 0.97,
         "seconds": 1.0}
    soc = {"rmse": 0.1, "rmse_two_phase": 0.1, "charge_error": 0.01, "front_error_px": 1.0,
           "front_error_reaction_px": 1.5}
    return {"condition": f"{salt:g}M_{c_rate:g}C", "salt_M": salt, "c_rate": c_rate, "truth_seconds": 30.0,
            "truth_cached": False, "mrf": {"0": m},
            "regime": {"regime": "uniform", "soc_spread_mid": 0.1, "soc_end_separator": 0.9,
                       "soc_end_collector": 0.9, "front_depth_mid": 0.5, "mean_soc_end": 0.9},
            "soc": {"50": {"PRNN": {**soc, "rmse_two_phase": prnn}, "linear-combination fit": {**soc, "rmse_two_phase": fit}}},
            "mrf_from_soc": {"50": {"PRNN": m}}}


def test_render_results_tables_orderings_and_goal_check():
    rows = [_row(0.3, 1, 0.09, 0.08), _row(1.0, 1, 0.15, 0.14), _row(2.0, 1, 0.08, 0.09, prnn=0.08)]
    record = {"rows": rows, "soc_noise": [0.0], "python": "3.11", "pybamm": "x", "seed": 0}
    page = render_results(record, "operando xrm bench", "rec.json")
    assert page.startswith("# XRM results (generated)")
    assert "| 1M_1C | 30.0 | uniform |" in page
    # truth 1 > 0.3 > 2 but inferred 1 > 2 > 0.3: the page must say DIFFERENT
    assert kappa_ordering(rows, 1, "kappa_true_mean") == ["1 M", "0.3 M", "2 M"]
    assert "DIFFERENT order" in page
    assert "0.3M_1C: PRNN 0.0500 vs fit 0.1200: ratio 0.42 (met); charge 1.00 % (met); reaction front 1.5 px (met)" in page
    assert "2M_1C: PRNN 0.0800 vs fit 0.1200: ratio 0.67 (NOT met)" in page
    # breakdown: the goals counted over the conditions, and where each is missed
    assert "| SOC RMSE in two-phase window <= 0.5 x fit | 2/3 |" in page
    assert "| kappa ordering over salts as the truth | 0/1 C-rates |" in page
    assert "- SOC RMSE in two-phase window <= 0.5 x fit: missed in SNR 50" in page
    assert "- reaction-front error <= 2 px: kept in every column" in page
