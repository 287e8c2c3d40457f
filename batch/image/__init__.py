"""Image (DICOM) jobs: read, de-identify (PS3.15 Basic profile), preprocess, segment, classify.

Processing modules here are pure (bytes and arrays in, arrays and dicts out); the batch worker
(:mod:`batch.worker`) moves jobs and stores the artifacts a handler returns.
"""
