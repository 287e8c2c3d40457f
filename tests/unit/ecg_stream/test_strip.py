"""ECG strip PNGs."""

from __future__ import annotations

from simulators.ecg_synth import SynthEvent, synth_ecg
from streams.ecg.strip import strip_id, strip_render


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
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert not list(tmp_path.rglob("*.tmp.png"))


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


def test_strip_id_is_keyed_so_a_list_of_patient_ids_does_not_reveal_it(monkeypatch):
    import hashlib

    import wardwatch.logs

    sid = strip_id("P1", "ecg.vtach", 1006.0)
    plain = hashlib.sha256(b"P1|ecg.vtach|1006000").hexdigest()[:20]
    assert plain not in sid  # not recomputable without the key
    monkeypatch.setattr(wardwatch.logs, "_SALT", b"another site's salt")
    assert strip_id("P1", "ecg.vtach", 1006.0) != sid
