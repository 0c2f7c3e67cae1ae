"""References a user of `operando` should cite, printable with ``operando citations``."""
from __future__ import annotations

CITATIONS: dict[str, str] = {
    "abcc": ("From Static Spectra to Operando Infrared Dynamics: Physics Informed Flow Modeling "
             "and a Benchmark. arXiv:2602.18551 (2026)."),
    "meanflow": ("Z. Geng, M. Deng, X. Bai, J. Z. Kolter, K. He. Mean Flows for One-step Generative "
                 "Modeling. arXiv:2505.13447 (2025)."),
    "dilate": ("V. Le Guen, N. Thome. Shape and Time Distortion Loss for Training Deep Time Series "
               "Forecasting Models. NeurIPS 2019."),
    "soft-dtw": ("M. Cuturi, M. Blondel. Soft-DTW: a Differentiable Loss Function for Time-Series. "
                 "ICML 2017."),
    "sit": ("N. Ma et al. SiT: Exploring Flow and Diffusion-based Generative Models with Scalable "
            "Interpolant Transformers. ECCV 2024; W. Peebles, S. Xie. Scalable Diffusion Models with "
            "Transformers (DiT). ICCV 2023."),
    "mcr-als": ("J. Jaumot, R. Gargallo, A. de Juan, R. Tauler. A graphical user-friendly interface for "
                "MCR-ALS. Chemometrics and Intelligent Laboratory Systems 76 (2005) 101-110."),
    "operando-ftir-sei": ("B. Leau et al. Operando infrared spectroscopy of SEI formation. Nature "
                          "Communications 16 (2025)."),
}


def print_citations(keys: list[str] | None = None) -> None:
    """Print the references (all, or those named by ``keys``)."""
    for key in keys or CITATIONS:
        print(f"[{key}] {CITATIONS[key]}")
