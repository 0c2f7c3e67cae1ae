"""Readers of real spectromicroscopy files (Xradia .xrm/.txrm)."""
