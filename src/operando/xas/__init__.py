"""X-ray absorption: invert K-edge XANES into the local structure of the absorbing atom
(coordination number, second-shell and oxygen coordination) and its oxidation state with the
Spectral Pattern Translator (arXiv 2603.27684): Fourier-domain features of the spectrum, a
learnable spectral query and a dynamic graph, trained on computed (FEFF) spectra and checked on
measured ones, so that a cathode's oxidation state can be followed through an operando run.
"""
