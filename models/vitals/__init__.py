"""Vital signs: the NEWS2 chart (RCP 2017) and the per-patient vitals step (pure)."""
