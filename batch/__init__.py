"""Side-topic batch workers (image/DICOM, genomic, notes) on a shared job-worker framework.

See :mod:`batch.worker` (the loop) and :mod:`batch.jobs` (messages, handler API).
"""
