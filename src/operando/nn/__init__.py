"""Neural-network backbones of operando (the 1D SiT/DiT spectral transformer)."""
from operando.nn.sit1d import SiT1D, SiT1DConfig

__all__ = ["SiT1D", "SiT1DConfig"]
