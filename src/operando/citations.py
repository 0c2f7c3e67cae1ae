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
    "simplisma": ("W. Windig, J. Guilment. Interactive self-modeling mixture analysis. Analytical "
                  "Chemistry 63 (1991) 1425-1432."),
    "fcnnls": ("M. H. Van Benthem, M. R. Keenan. Fast algorithm for the solution of large-scale "
               "non-negativity-constrained least squares problems. J. Chemometrics 18 (2004) 441-450."),
    "nndsvd": ("C. Boutsidis, E. Gallopoulos. SVD based initialization: a head start for nonnegative "
               "matrix factorization. Pattern Recognition 41 (2008) 1350-1362."),
    "operando-ftir-sei": ("B. Leau et al. Operando infrared spectroscopy of SEI formation. Nature "
                          "Communications 16 (2025)."),
    "jcamp-dx": ("R. S. McDonald, P. A. Wilks. JCAMP-DX: A Standard Form for Exchange of Infrared Spectra "
                 "in Computer Readable Form. Applied Spectroscopy 42 (1988) 151-162."),
    "asls": ("P. H. C. Eilers, H. F. M. Boelens. Baseline Correction with Asymmetric Least Squares "
             "Smoothing. Leiden University Medical Centre report (2005)."),
}


def print_citations(keys: list[str] | None = None) -> None:
    """Print the references (all, or those named by ``keys``)."""
    for key in keys or CITATIONS:
        print(f"[{key}] {CITATIONS[key]}")
