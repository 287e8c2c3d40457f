"""Admissions (the ``admissions`` topic): age, sex and ICU admission time of a patient."""
