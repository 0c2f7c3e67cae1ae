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
    "flow-matching": ("Y. Lipman, R. T. Q. Chen, H. Ben-Hamu, M. Nickel, M. Le. Flow Matching for "
                      "Generative Modeling. ICLR 2023."),
    "cfg": "J. Ho, T. Salimans. Classifier-Free Diffusion Guidance. arXiv:2207.12598 (2022).",
    "latent-diffusion": ("R. Rombach, A. Blattmann, D. Lorenz, P. Esser, B. Ommer. High-Resolution Image "
                         "Synthesis with Latent Diffusion Models. CVPR 2022."),
    "vae": "D. P. Kingma, M. Welling. Auto-Encoding Variational Bayes. ICLR 2014.",
    "mcr-als": ("J. Jaumot, R. Gargallo, A. de Juan, R. Tauler. A graphical user-friendly interface for "
                "MCR-ALS. Chemometrics and Intelligent Laboratory Systems 76 (2005) 101-110."),
    "simplisma": ("W. Windig, J. Guilment. Interactive self-modeling mixture analysis. Analytical "
                  "Chemistry 63 (1991) 1425-1432."),
    "fcnnls": ("M. H. Van Benthem, M. R. Keenan. Fast algorithm for the solution of large-scale "
               "non-negativity-constrained least squares problems. J. Chemometrics 18 (2004) 441-450."),
    "nndsvd": ("C. Boutsidis, E. Gallopoulos. SVD based initialization: a head start for nonnegative "
               "matrix factorization. Pattern Recognition 41 (2008) 1350-1362."),
    "mcr-multiset": ("R. Tauler, A. Smilde, B. Kowalski. Selectivity, local rank, three-way data analysis and "
                     "ambiguity in multivariate curve resolution. J. Chemometrics 9 (1995) 31-58."),
    "marchenko-pastur": ("V. A. Marchenko, L. A. Pastur. Distribution of eigenvalues for some sets of random "
                         "matrices. Math. USSR-Sbornik 1 (1967) 457-483."),
    "operando-ftir-sei": ("B. Leau et al. Operando infrared spectroscopy of SEI formation. Nature "
                          "Communications 16 (2025)."),
    "jcamp-dx": ("R. S. McDonald, P. A. Wilks. JCAMP-DX: A Standard Form for Exchange of Infrared Spectra "
                 "in Computer Readable Form. Applied Spectroscopy 42 (1988) 151-162."),
    "asls": ("P. H. C. Eilers, H. F. M. Boelens. Baseline Correction with Asymmetric Least Squares "
             "Smoothing. Leiden University Medical Centre report (2005)."),
    # Band positions and SEI chemistry of the simulator (operando.ir.simulate, docs/ir/simulator.md).
    "solvation-ir": ("D. M. Seo et al. Role of mixed solvation and ion pairing in the solution structure of "
                     "lithium ion battery electrolytes. J. Phys. Chem. C 119 (2015) 14038."),
    "ledc-ir": ("G. V. Zhuang, K. Xu, H. Yang, T. R. Jow, P. N. Ross. Lithium ethylene dicarbonate identified as "
                "the primary product of chemical and electrochemical reduction of EC. J. Phys. Chem. B 109 "
                "(2005) 17567."),
    "lmc-ir": ("G. V. Zhuang, H. Yang, P. N. Ross, K. Xu, T. R. Jow. Lithium methyl carbonate as a reaction "
               "product of metallic lithium and dimethyl carbonate. Electrochem. Solid-State Lett. 9 (2006) A64."),
    "sei-ir": ("D. Aurbach, B. Markovsky, A. Shechter, Y. Ein-Eli, H. Cohen. A comparative study of synthetic "
               "graphite and Li electrodes in electrolyte solutions based on ethylene carbonate-dimethyl "
               "carbonate mixtures. J. Electrochem. Soc. 143 (1996) 3809."),
    "coo-gel": ("S. Laruelle et al. On the origin of the extra electrochemical capacity displayed by MO/Li cells "
                "at low potential. J. Electrochem. Soc. 149 (2002) A627."),
    "rdkit": "RDKit: Open-source cheminformatics. https://www.rdkit.org",
    "etkdg": ("S. Wang, J. Witek, G. A. Landrum, S. Riniker. Improving Conformer Generation for Small Rings "
              "and Macrocycles Based on Distance Geometry and Experimental Torsional-Angle Preferences "
              "(ETKDG v3). J. Chem. Inf. Model. 60 (2020) 2044-2058."),
    "mmff94": ("T. A. Halgren. Merck molecular force field. I. Basis, form, scope, parameterization, and "
               "performance of MMFF94. J. Comput. Chem. 17 (1996) 490-519."),
    "uff": ("A. K. Rappe, C. J. Casewit, K. S. Colwell, W. A. Goddard III, W. M. Skiff. UFF, a full periodic "
            "table force field for molecular mechanics and molecular dynamics simulations. J. Am. Chem. "
            "Soc. 114 (1992) 10024-10035."),
    "gasteiger": ("J. Gasteiger, M. Marsili. Iterative partial equalization of orbital electronegativity - a "
                  "rapid access to atomic charges. Tetrahedron 36 (1980) 3219-3228."),
    # Operando X-ray spectromicroscopy (operando.xrm, docs/xrm/).
    "xrm-prnn-kmrf": ("K. Wada, M. Kimura, M. Mizumaki, K. Amezawa, N. Akai, T. Aonishi. A Physics-Regularized "
                      "Neural Network and Kirchhoff Markov Random Field Framework for Inferring Internal "
                      "Electrochemical States from Operando Spectromicroscopy. arXiv:2602.19888 (2026)."),
    "pybamm": ("V. Sulzer, S. G. Marquis, R. Timms, M. Robinson, S. J. Chapman. Python Battery Mathematical "
               "Modelling (PyBaMM). Journal of Open Research Software 9 (2021) 14."),
    "ai2020": ("W. Ai, L. Kraft, J. Sturm, A. Jossen, B. Wu. Electrochemical Thermal-Mechanical Modelling of "
               "Stress Inhomogeneity in Lithium-Ion Pouch Cells. J. Electrochem. Soc. 167 (2020) 013512."),
    "valoen-reimers": ("L. O. Valøen, J. N. Reimers. Transport Properties of LiPF6-Based Li-Ion Battery "
                       "Electrolytes. J. Electrochem. Soc. 152 (2005) A882."),
    "doyle-fuller-newman": ("M. Doyle, T. F. Fuller, J. Newman. Modeling of Galvanostatic Charge and Discharge "
                            "of the Lithium/Polymer/Insertion Cell. J. Electrochem. Soc. 140 (1993) 1526."),
    "xu2019": ("S. Xu, K.-H. Chen, N. P. Dasgupta, J. B. Siegel, A. G. Stefanopoulou. Evolution of Dead Lithium "
               "Growth in Lithium Metal Batteries: Experimentally Validated Model of the Apparent Capacity "
               "Loss. J. Electrochem. Soc. 166 (2019) A3456."),
    # XAS (operando.xas, docs/xas/README.md).
    "spt": ("Zhong, Huang, Xu, Xu, Zhao, Cheng, Tang, E, Tian. Solving the inverse problem of X-ray absorption "
            "spectroscopy via physics-informed deep learning (Spectral Pattern Translator). arXiv:2603.27684 (2026)."),
    "rf-xanes": ("C. Zheng, C. Chen, Y. Chen, S. P. Ong. Random Forest Models for Accurate Identification of "
                 "Coordination Environments from X-Ray Absorption Near-Edge Structure. Patterns 1 (2020) 100013."),
    "cnn-xanes": ("M. R. Carbone, S. Yoo, M. Topsakal, D. Lu. Classification of local chemical environments from "
                  "x-ray absorption spectra using supervised machine learning. Phys. Rev. Materials 3 (2019) 033604."),
    "omnixas": ("S. Kharel et al. OmniXAS: A Universal Deep-Learning Framework for Materials X-ray Absorption "
                "Spectra. arXiv:2409.19552 (2024)."),
    "larch": ("M. Newville. Larch: An Analysis Package for XAFS and Related Spectroscopies. J. Phys.: Conf. Ser. "
              "430 (2013) 012007."),
    "crystalnn": ("H. Pan, A. M. Ganose, M. Horton, M. Aykol, K. A. Persson, N. E. R. Zimmermann, A. Jain. "
                  "Benchmarking Coordination Number Prediction Algorithms on Inorganic Crystal Structures. "
                  "Inorg. Chem. 60 (2021) 1590-1603."),
    "bond-valence": ("M. O'Keeffe, N. E. Brese. Atom sizes and bond lengths in molecules and crystals. J. Am. Chem. "
                     "Soc. 113 (1991) 3226-3229."),
    "edgeconv": ("Y. Wang, Y. Sun, Z. Liu, S. E. Sarma, M. M. Bronstein, J. M. Solomon. Dynamic Graph CNN for "
                 "Learning on Point Clouds. ACM Trans. Graph. 38 (2019) 146."),
    "pymatgen": ("S. P. Ong et al. Python Materials Genomics (pymatgen): A robust, open-source python library for "
                 "materials analysis. Comput. Mater. Sci. 68 (2013) 314-319."),
}


def print_citations(keys: list[str] | None = None) -> None:
    """Print the references (all, or those named by ``keys``)."""
    for key in keys or CITATIONS:
        print(f"[{key}] {CITATIONS[key]}")
