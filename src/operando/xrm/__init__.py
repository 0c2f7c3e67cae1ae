"""X-ray spectromicroscopy: state-of-charge maps of a composite electrode from a spectrum at
every pixel, with a network regularised by spatial continuity and charge conservation, then the
interfacial current, ionic current, electrolyte potential and effective conductivity maps that no
spectrum shows, from a Kirchhoff Markov random field (arXiv 2602.19888).
"""
