"""Round-trip accuracy of ABCC's Algorithm 1: ImageToSpec(SpecToImage(s)) vs s.

Usage:  python benchmarks/ir/bench_waveform_roundtrip.py [--count 20] [--points 601] [--seed 0]

For each image size (64, 128, 256) and spectrum family it prints, averaged over ``--count``
random spectra of ``--points`` points (800-2000 cm-1):

* mae/range   MAE / (max - min) of the (clipped) true spectrum (blank for flat spectra);
* mae/fs      MAE / full scale 2 alpha s_max (= 0.8 absorbance units with the defaults);
* max/fs      largest absolute error / full scale;
* draw/fs     MAE against the spectrum resampled to W columns and back (the pure drawing +
              centroid error, without the loss of the W-column resampling);
* u8/fs       MAE / full scale when the image is rounded to uint8 before ImageToSpec;
* ms/spec     milliseconds per spectrum for both directions (numpy float64, batch of count).

Families: smooth (Lorentzian bands, FWHM 20-60 cm-1, signed amplitudes up to 0.35), sharp
(FWHM 3-6 cm-1), flat (constants), clipped (amplitudes 0.5-1.0, compared with the spectrum
clipped at +/- 0.4), noisy (smooth plus N(0, 0.005) noise).
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from operando.ir.image.waveform import (
    WaveformConfig,
    clip_spectra,
    image_to_spec,
    resample_linear,
    spec_to_image,
    to_uint8,
)


def _bands(rng: np.random.Generator, grid: np.ndarray, count: int, fwhm: tuple[float, float],
           amplitude: tuple[float, float]) -> np.ndarray:
    spectrum = np.zeros_like(grid)
    for _ in range(count):
        centre = rng.uniform(grid[0] + 50, grid[-1] - 50)
        width = rng.uniform(*fwhm)
        height = rng.uniform(*amplitude) * rng.choice([-1.0, 1.0])
        spectrum += height / (1 + ((grid - centre) / (width / 2)) ** 2)
    return spectrum


def families(count: int, points: int, seed: int) -> dict[str, np.ndarray]:
    """Spectrum families (count, points) used by the benchmark (and documented in its header)."""
    rng = np.random.default_rng(seed)
    grid = np.linspace(800.0, 2000.0, points)
    out = {
        "smooth": [_bands(rng, grid, rng.integers(3, 7), (20, 60), (0.05, 0.35)) for _ in range(count)],
        "sharp": [_bands(rng, grid, rng.integers(3, 7), (3, 6), (0.05, 0.35)) for _ in range(count)],
        "flat": [np.full(points, rng.uniform(-0.3, 0.3)) for _ in range(count)],
        "clipped": [_bands(rng, grid, rng.integers(3, 7), (20, 60), (0.5, 1.0)) for _ in range(count)],
    }
    out["noisy"] = [s + rng.normal(0, 0.005, points) for s in out["smooth"]]
    return {name: np.asarray(value) for name, value in out.items()}


def measure(spectra: np.ndarray, config: WaveformConfig) -> dict[str, float]:
    """Round-trip errors of a batch (count, points) at one image size."""
    points = spectra.shape[-1]
    start = time.perf_counter()
    images = spec_to_image(spectra, config)
    back = image_to_spec(images, points, config)
    seconds = time.perf_counter() - start
    truth = clip_spectra(spectra, config)
    resampled = resample_linear(resample_linear(truth, config.width), points)
    back_u8 = image_to_spec(to_uint8(images).astype(np.float64), points, config)
    full_scale = 2 * config.value_limit
    error = np.abs(back - truth)
    amplitude = truth.max(axis=-1) - truth.min(axis=-1)
    has_range = amplitude > 1e-9
    return {
        "mae/range": float(np.mean(error.mean(-1)[has_range] / amplitude[has_range]))
        if has_range.any() else float("nan"),
        "mae/fs": float(error.mean() / full_scale),
        "max/fs": float(error.max() / full_scale),
        "draw/fs": float(np.abs(back - resampled).mean() / full_scale),
        "u8/fs": float(np.abs(back_u8 - truth).mean() / full_scale),
        "ms/spec": 1000 * seconds / spectra.shape[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20, help="spectra per family")
    parser.add_argument("--points", type=int, default=601, help="points N_f per spectrum")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    data = families(args.count, args.points, args.seed)
    columns = ["mae/range", "mae/fs", "max/fs", "draw/fs", "u8/fs", "ms/spec"]
    print(f"# {args.count} spectra per family, N_f = {args.points}, defaults of App. D "
          f"(margin 0.08, sigma0 1.8 px, alpha 0.4, g 180, white background, connected trace)")
    print(f"{'size':>7} {'family':>8} " + " ".join(f"{c:>9}" for c in columns))
    for size in (64, 128, 256):
        config = WaveformConfig(height=size, width=size)
        for name, spectra in data.items():
            row = measure(spectra, config)
            cells = ["-" if np.isnan(row[c]) else (f"{row[c]:.2f}" if c == "ms/spec" else f"{row[c]:.2e}")
                     for c in columns]
            print(f"{size:>3}x{size:<3} {name:>8} " + " ".join(f"{cell:>9}" for cell in cells))


if __name__ == "__main__":
    main()
