"""The image route of ABCC (arXiv:2602.18551, Sec. 3 and App. D).

* :mod:`operando.ir.image.waveform` - Algorithm 1: spectrum <-> grayscale waveform image;
* :mod:`operando.ir.image.cflow` - Algorithm 2: the chemical flow (and residual variation) of an
  operando sequence drawn as one image;
* :mod:`operando.ir.image.vae` - a small convolutional VAE trained on waveform images (the paper
  used Stable Diffusion's pretrained ``sd-vae-ft-ema``; a local copy of such diffusers weights
  can be loaded instead).

The 2D latent backbone is :class:`operando.nn.sit2d.SiT2D`.
"""
from operando.ir.image.cflow import (
                                  CFLOW_STYLE,
                                  RESIDUAL_STYLE,
                                  PolylineStyle,
                                  chemical_flow,
                                  draw_polylines,
                                  residual_variation,
                                  spec_to_cflow,
                                  spec_to_residual_image,
)
from operando.ir.image.waveform import (
                                  DEFAULT_WAVEFORM,
                                  WaveformConfig,
                                  clip_spectra,
                                  fit_s_max,
                                  image_to_spec,
                                  resample_linear,
                                  spec_to_image,
                                  to_uint8,
)

__all__ = ["WaveformConfig", "DEFAULT_WAVEFORM", "spec_to_image", "image_to_spec", "clip_spectra",
           "fit_s_max", "resample_linear", "to_uint8", "PolylineStyle", "CFLOW_STYLE",
           "RESIDUAL_STYLE", "chemical_flow", "residual_variation", "draw_polylines",
           "spec_to_cflow", "spec_to_residual_image"]
