"""Chemistry building blocks: molecule encoders and the electrolyte mixture embedding.

``MoleculeEncoder(kind="3d")`` needs the optional extra ``operando[chem]`` (RDKit);
``kind="2d"`` and :func:`mixture_embedding` with it work on a minimal install.
"""
from operando.ir.chem.fingerprints import FINGERPRINT_2D_DIM, fingerprint_2d, graph_key, parse_smiles
from operando.ir.chem.mixture import (
                                   DEFAULT_SOLVENT_DENSITIES,
                                   DESCRIPTOR_3D_DIM,
                                   DESCRIPTOR_NAMES_3D,
                                   MoleculeEncoder,
                                   SolventDensity,
                                   build_conformer,
                                   default_cache_dir,
                                   mixture_dim,
                                   mixture_embedding,
                                   solvent_density,
                                   solvent_volume_fractions,
                                   split_fragments,
)

__all__ = ["DEFAULT_SOLVENT_DENSITIES", "DESCRIPTOR_3D_DIM", "DESCRIPTOR_NAMES_3D", "FINGERPRINT_2D_DIM",
           "MoleculeEncoder", "SolventDensity", "build_conformer", "default_cache_dir", "fingerprint_2d",
           "graph_key", "mixture_dim", "mixture_embedding", "parse_smiles", "solvent_density",
           "solvent_volume_fractions", "split_fragments"]
