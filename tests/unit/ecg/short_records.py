"""A short copy of a DS1 record written as a new WFDB record (signal and ``atr`` annotations),
as another database's would come: for tests of the commands that read record folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import wfdb

from wardwatch.settings import shared_data

DS1 = shared_data("mitdb-ds1")
MITDB_FS = 360  #: every MIT-BIH Arrhythmia record's sampling rate, Hz


def write_short_record(name: str, out: Path, seconds: int, as_name: str | None = None) -> None:
    """The first ``seconds`` of DS1 record ``name`` into ``out`` as record ``as_name`` (default
    the same name), in format 212 at the record's own rate."""
    rec = wfdb.rdrecord(str(DS1 / name), sampto=MITDB_FS * seconds)
    ann = wfdb.rdann(str(DS1 / name), "atr", sampto=MITDB_FS * seconds)
    new = as_name or name
    wfdb.wrsamp(
        new,
        fs=rec.fs,
        units=rec.units,
        sig_name=rec.sig_name,
        p_signal=rec.p_signal,
        fmt=["212"] * rec.n_sig,
        write_dir=str(out),
    )
    wfdb.wrann(new, "atr", np.asarray(ann.sample), symbol=ann.symbol, write_dir=str(out))
