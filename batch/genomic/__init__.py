"""Genomic batch jobs: FASTA statistics and gene-expression classification/clustering.

Pure processing lives in :mod:`batch.genomic.fasta` and :mod:`batch.genomic.expression`;
:mod:`batch.genomic.golub` reads the Golub et al. (1999) CSV format; the batch-worker handler
that moves files and results is :mod:`batch.genomic.handler`.
"""
