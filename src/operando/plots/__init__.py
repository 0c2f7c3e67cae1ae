"""The spectroscopist's figures (matplotlib, no pyplot; spectral axes high -> low cm-1).

Every function returns the Figure and writes it atomically when given ``path``.
"""
from operando.plots.decomposition import plot_decomposition
from operando.plots.spectra import SEI_REGIONS, plot_difference, plot_forecast_vs_true, plot_heatmap, plot_waterfall

__all__ = ["SEI_REGIONS", "plot_decomposition", "plot_difference", "plot_forecast_vs_true",
           "plot_heatmap", "plot_waterfall"]
