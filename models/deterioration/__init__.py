"""Deterioration model: a calibrated logistic early-warning model on hourly vitals features.

Modules: ``features`` (one feature implementation, offline and streaming), ``utility`` (the
PhysioNet 2019 utility score), ``dataset`` (challenge files), ``model`` (the artifact),
``train``, ``evaluate``, ``site`` (refit calibration and threshold on a site's patients),
``shift`` (shift checks) and ``live`` (the pure step the vitals agent calls).
"""
