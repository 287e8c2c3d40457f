"""ECG strip PNGs."""

from __future__ import annotations

import numpy as np

from simulators.ecg_synth import SynthEvent, synth_ecg
from streams.ecg.strip import BEAT_COLOURS, PX_PER_MM, strip_id, strip_render


def _pixels(path):
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB"))


def _paper_box(rgb):
    """(left, top, width, height) of the ECG paper: the pixels of the paper's own colour."""
    paper = (rgb == (0xFF, 0xF5, 0xF5)).all(axis=2)
    rows, cols = np.flatnonzero(paper.any(axis=1)), np.flatnonzero(paper.any(axis=0))
    return cols[0] - 1, rows[0] - 1, cols[-1] - cols[0] + 2, rows[-1] - rows[0] + 2


def test_strip_png_written(tmp_path):
    fs = 360.0
    sig, beats = synth_ecg(10, fs, 80, [SynthEvent("vrun", 5, 2.5, {"rate_bpm": 170})], seed=4)
    sid = strip_id("P1", "ecg.vtach", 1000.0 + 6.0)
    assert sid == strip_id("P1", "ecg.vtach", 1006.0) and "P1" not in sid
    p = strip_render(
        tmp_path / "strips" / f"{sid}.png",
        sig,
        fs,
        1000.0,
        beats=[(1000.0 + s / fs, b) for s, b in beats],
        event_t=1006.0,
        title="ecg.vtach",
    )
    data = p.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.rglob("*.tmp.png"))
    rgb = _pixels(p)
    left, top, width, height = _paper_box(rgb)
    assert width == 6 * 25 * PX_PER_MM  # 6 s at 25 mm/s
    # the trace is drawn across the strip: ink in (nearly) every column of the paper
    ink = (rgb[top + 1 : top + height, left + 1 : left + width] == (0, 0, 0)).all(axis=2)  # inside the frame
    assert ink.any(axis=0).mean() > 0.97
    # the alarm line 1 s before the strip's end (the strip ends 1 s after the event)
    red = (rgb[top : top + height] == (0xC0, 0x00, 0x00)).all(axis=2).any(axis=0)
    assert abs(int(np.flatnonzero(red).mean()) - (left + 5 * 25 * PX_PER_MM)) <= 2
    # the VT run's beats are marked V (in their colour), the others N
    for lab in ("V", "N"):
        colour = tuple(int(BEAT_COLOURS[lab][i : i + 2], 16) for i in (1, 3, 5))
        assert (rgb[: top + 40] == colour).all(axis=2).any(), lab


def test_two_lead_strip_draws_the_second_lead_under_the_first(tmp_path):
    from PIL import Image

    fs = 360.0
    sig, beats = synth_ecg(8, fs, 75, [], seed=1)
    marks = [(1000.0 + s / fs, b) for s, b in beats]
    one = strip_render(tmp_path / "one.png", sig, fs, 1000.0, beats=marks, lead="MLII")
    two = strip_render(
        tmp_path / "two.png", sig, fs, 1000.0, beats=marks, lead="MLII", second=("V1", -sig // 2, 1000.0)
    )
    (w1, h1), (w2, h2) = Image.open(one).size, Image.open(two).size
    assert w1 == w2 and h2 > h1 * 1.5  # same time axis, a second trace below
    rgb = _pixels(two)
    left, top, width, height = _paper_box(rgb)
    inside = rgb[top + 1 : top + height, left + 20 : left + width]  # inside the frame, past the lead names
    ink_rows = np.flatnonzero((inside == (0, 0, 0)).all(axis=2).any(axis=1))
    # two traces: ink in the upper and in the lower half of the paper, a gap between them
    assert ink_rows.min() < height / 2 < ink_rows.max() and np.diff(ink_rows).max() > 10


def test_strip_id_is_keyed_so_a_list_of_patient_ids_does_not_reveal_it(monkeypatch):
    import hashlib

    import wardwatch.logs

    sid = strip_id("P1", "ecg.vtach", 1006.0)
    plain = hashlib.sha256(b"P1|ecg.vtach|1006000").hexdigest()[:20]
    assert plain not in sid  # not recomputable without the key
    monkeypatch.setattr(wardwatch.logs, "_SALT", b"another site's salt")
    assert strip_id("P1", "ecg.vtach", 1006.0) != sid
