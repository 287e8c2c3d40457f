"""Synthetic ECG (lead II, and V1 as a second lead) with injected events, for load tests and demos.

Each beat is a sum of Gaussian waves (P, Q, R, S, T), the dynamical-model shape of McSharry PE
et al., "A dynamical model for generating synthetic electrocardiogram signals", IEEE Trans
Biomed Eng 50(3):289-294 (2003), laid directly on a beat schedule (faster than integrating the
ODE, and every beat's true time and class is known). Injected events:

``vrun``       run of ventricular beats (wide QRS, no P, discordant T) at ``rate_bpm``
``pause``      no beat at all (sinus arrest / asystole) for the event duration
``af``         atrial fibrillation: no P waves, 4-9 Hz fibrillatory baseline, irregular RR
``leads_off``  flat line (electrode off: constant output), beats continue underneath
``noise``      broadband muscle-like noise of ``amp_uv`` RMS on top of the ECG
``rate``       sinus rhythm at another ``rate_bpm`` (bradycardia / tachycardia)
``vf``         ventricular fibrillation: no beats, coarse fibrillation waves of ``amp_uv`` at
               ``freq_hz`` (default 400 uV, 5 Hz: 300/min), drifting in rate and amplitude

Everything is deterministic for a given ``seed``. The V1 lead of a seed has the same beats,
rhythm and events as its lead II (one heart), its own wave shapes and its own measurement noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from simulators.ecg_feed import BedFeed

# Wave (centre s relative to R, amplitude mV, width s). T centre scales with sqrt(RR) (Bazett).
_NORMAL = (
    ("P", -0.20, 0.15, 0.025),
    ("Q", -0.028, -0.12, 0.010),
    ("R", 0.0, 1.20, 0.011),
    ("S", 0.030, -0.28, 0.011),
    ("T", 0.26, 0.32, 0.045),
)
# A ventricular beat: wide (QRS about 150 ms) but with steeper deflections. Until 2026-12-05 its
# R and S were Gaussians of 35 ms width, so a run at 150-200/min was nearly a sine wave: the VF
# measures (models/ecg/vf.py) called every 4 s window of it ventricular flutter (real VT in
# MIT-BIH passes them in a few windows of one record), and the demo's VT bed raised ecg.vfib.
_VENTRICULAR = (("R", 0.0, 1.5, 0.025), ("S", 0.065, -0.7, 0.028), ("T", 0.30, -0.45, 0.065))
# V1 faces the right ventricle: small r, deep S, low P and flat/negative T in sinus rhythm; a
# ventricular beat from the right ventricle (left-bundle-branch-block shape) gives a wide QS with
# a discordant, positive T. Textbook shapes for a demo signal, not a model of any patient.
_V1_NORMAL = (
    ("P", -0.20, 0.06, 0.025),
    ("R", -0.005, 0.25, 0.010),
    ("S", 0.025, -0.85, 0.014),
    ("T", 0.26, -0.08, 0.05),
)
_V1_VENTRICULAR = (("Q", 0.01, -1.30, 0.04), ("T", 0.33, 0.40, 0.065))
#: Leads the synthesiser draws: lead -> (sinus waves, ventricular waves).
LEADS = {"II": (_NORMAL, _VENTRICULAR), "V1": (_V1_NORMAL, _V1_VENTRICULAR)}
EVENT_KINDS = ("vrun", "pause", "af", "leads_off", "noise", "rate", "vf")


@dataclass(frozen=True)
class SynthEvent:
    """An event injected into a synthetic feed.

    Parameters
    ----------
    kind : str
        One of :data:`EVENT_KINDS`.
    start_s, duration_s : float
        When, in seconds from the feed start.
    params : dict
        ``rate_bpm`` for ``vrun`` / ``rate`` / ``af`` (mean ventricular rate), ``amp_uv`` for
        ``noise``.
    """

    kind: str
    start_s: float
    duration_s: float
    params: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in EVENT_KINDS:
            raise ValueError(f"unknown event kind {self.kind!r}; valid: {EVENT_KINDS}")

    def covers(self, t: float) -> bool:
        return self.start_s <= t < self.start_s + self.duration_s


def _active(events: Sequence[SynthEvent], kind: str, t: float) -> SynthEvent | None:
    for e in events:
        if e.kind == kind and e.covers(t):
            return e
    return None


def _schedule(
    duration_s: float, hr_bpm: float, events: Sequence[SynthEvent], rng: np.random.Generator
) -> list[tuple[float, str]]:
    """Beat times (s) and AAMI labels."""
    beats: list[tuple[float, str]] = []
    t = 0.35 + rng.uniform(0, 0.3)
    while t < duration_s:
        stop = _active(events, "pause", t) or _active(events, "vf", t)
        if stop is not None:
            t = stop.start_s + stop.duration_s + 0.05
            continue
        vrun = _active(events, "vrun", t)
        af = _active(events, "af", t)
        rate = _active(events, "rate", t)
        if vrun is not None:
            beats.append((t, "V"))
            rr = 60.0 / vrun.params.get("rate_bpm", 160.0) * rng.uniform(0.97, 1.03)
        elif af is not None:
            beats.append((t, "N"))
            mean_rr = 60.0 / af.params.get("rate_bpm", 110.0)
            rr = float(np.clip(rng.gamma(6.0, mean_rr / 6.0), 0.3, 1.6))  # CoV ~ 0.4
        else:
            beats.append((t, "N"))
            base = rate.params["rate_bpm"] if rate is not None else hr_bpm
            # respiratory sinus arrhythmia (0.25 Hz, +-3 %) and 1 % jitter
            rr = 60.0 / base * (1 + 0.03 * np.sin(2 * np.pi * 0.25 * t)) * rng.normal(1, 0.01)
        t += rr
    return beats


def synth_ecg(
    duration_s: float,
    fs: float,
    hr_bpm: float = 72.0,
    events: Sequence[SynthEvent] = (),
    seed: int = 0,
    noise_uv: float = 8.0,
    lead: str = "II",
) -> tuple[np.ndarray, list[tuple[int, str]]]:
    """Synthesise one lead of ECG.

    Parameters
    ----------
    duration_s : float
        Seconds of signal.
    fs : float
        Sampling rate in Hz (required).
    hr_bpm : float
        Sinus rate outside events.
    events : sequence of SynthEvent
    seed : int
    noise_uv : float
        RMS of the background measurement noise.
    lead : str
        A lead of :data:`LEADS`; the same ``seed`` gives the same beats in every lead.

    Returns
    -------
    signal_uv : numpy.ndarray
        int32 microvolts.
    beats : list of (sample, label)
        True R-peak samples and AAMI labels (``N`` or ``V``).

    Examples
    --------
    >>> sig, beats = synth_ecg(10, fs=360.0, events=[SynthEvent("vrun", 4, 2, {"rate_bpm": 170})])
    >>> sig.dtype.name, "V" in {b for _, b in beats}
    ('int32', True)
    """
    if lead not in LEADS:
        raise ValueError(f"unknown lead {lead!r}; valid: {list(LEADS)}")
    normal, ventricular = LEADS[lead]
    rng = np.random.default_rng(seed)
    n = round(duration_s * fs)
    t = np.arange(n) / fs
    x = np.zeros(n)
    sched = _schedule(duration_s, hr_bpm, events, rng)
    prev = None
    for tb, label in sched:
        rr = (tb - prev) if prev is not None else 60.0 / hr_bpm
        prev = tb
        in_af = _active(events, "af", tb) is not None
        waves = ventricular if label == "V" else normal
        amp_scale = rng.normal(1.0, 0.03)
        lo, hi = int(max(0, (tb - 0.45) * fs)), int(min(n, (tb + 0.75) * fs))
        seg = t[lo:hi] - tb
        for name, c, a, w in waves:
            if name == "P" and in_af:
                continue
            if name == "T":
                c = c * np.sqrt(min(max(rr, 0.3), 1.5)) / np.sqrt(0.85)
            x[lo:hi] += a * amp_scale * np.exp(-((seg - c) ** 2) / (2 * w * w))
    # baseline wander (respiration) and measurement noise: the lead's own after the shared beats
    if lead != "II":
        rng = np.random.default_rng([seed, list(LEADS).index(lead)])
    x += 0.06 * np.sin(2 * np.pi * 0.22 * t + rng.uniform(0, 2 * np.pi))
    x += rng.normal(0, noise_uv / 1000.0, n)
    _overlay_events(x, t, fs, events, rng)
    signal_uv = np.round(x * 1000.0).astype(np.int32)
    beats = [(round(tb * fs), lab) for tb, lab in sched if tb * fs < n]
    return signal_uv, beats


def _overlay_events(
    x: np.ndarray, t: np.ndarray, fs: float, events: Sequence[SynthEvent], rng: np.random.Generator
) -> None:
    """Add the non-beat events (AF waves, VF, noise bursts, leads off) to ``x`` in place."""
    n = x.size
    for e in events:
        i0, i1 = int(e.start_s * fs), min(n, int((e.start_s + e.duration_s) * fs))
        if i1 <= i0:
            continue
        if e.kind == "af":
            tt = t[i0:i1]
            f = 6.0 + 1.5 * np.sin(2 * np.pi * 0.1 * tt)  # 4.5-7.5 Hz fibrillatory waves
            x[i0:i1] += 0.05 * np.sin(2 * np.pi * np.cumsum(f) / fs + rng.uniform(0, 6.3))
        elif e.kind == "vf":
            tt = t[i0:i1]
            f = e.params.get("freq_hz", 5.0) * (1 + 0.15 * np.sin(2 * np.pi * 0.2 * tt))
            env = 1 + 0.35 * np.sin(2 * np.pi * 0.3 * tt + rng.uniform(0, 6.3))
            phase = 2 * np.pi * np.cumsum(f) / fs + rng.uniform(0, 6.3)
            x[i0:i1] += e.params.get("amp_uv", 400.0) / 1000.0 * env * np.sin(phase)
        elif e.kind == "noise":
            amp = e.params.get("amp_uv", 400.0) / 1000.0
            burst = rng.normal(0, amp, i1 - i0)
            x[i0:i1] += burst
        elif e.kind == "leads_off":
            x[i0:i1] = e.params.get("level_uv", 0.0) / 1000.0


#: Scenario name -> (sinus rate, events) for the demo / load-test beds. Times in seconds.
SCENARIOS: dict[str, tuple[float, tuple[SynthEvent, ...]]] = {
    "sinus": (72.0, ()),
    "vrun": (80.0, (SynthEvent("vrun", 20.0, 6.0, {"rate_bpm": 170.0}),)),
    "pause": (65.0, (SynthEvent("pause", 25.0, 6.0),)),
    "af": (75.0, (SynthEvent("af", 10.0, 1e9, {"rate_bpm": 115.0}),)),
    "leads_off": (70.0, (SynthEvent("leads_off", 20.0, 15.0),)),
    "noise": (70.0, (SynthEvent("noise", 20.0, 15.0, {"amp_uv": 500.0}),)),
    "vf": (90.0, (SynthEvent("vf", 25.0, 20.0),)),
    "brady": (38.0, ()),
    "tachy": (135.0, ()),
}


def synth_beds(
    n: int,
    duration_s: float = 60.0,
    fs: float = 360.0,
    seed: int = 0,
    scenarios: Sequence[str] | None = None,
    prefix: str = "SYN",
    leads: int = 2,
) -> list[BedFeed]:
    """Make ``n`` synthetic bedside feeds, cycling through ``scenarios``.

    Parameters
    ----------
    n : int
        Number of beds.
    duration_s : float
        Seconds of signal per bed.
    fs : float
        Sampling rate in Hz.
    seed : int
        Bed ``i`` uses ``seed + i``.
    scenarios : sequence of str, optional
        Names from :data:`SCENARIOS` (default: all, in order; ``["sinus"]`` for plain load).
    prefix : str
        Patient ids are ``f"{prefix}-{i:04d}"``, beds ``f"SIM-{i + 1:03d}"``.
    leads : int
        2 (default, as a bedside monitor sends): lead II and V1; 1: lead II only.

    Examples
    --------
    >>> [f.source for f in synth_beds(3, duration_s=5)]
    ['synth:sinus', 'synth:vrun', 'synth:pause']
    """
    if leads not in (1, 2):
        raise ValueError(f"leads must be 1 or 2, got {leads}")
    names = list(scenarios or SCENARIOS)
    unknown = [s for s in names if s not in SCENARIOS]
    if unknown:
        raise ValueError(f"unknown scenarios {unknown}; valid: {list(SCENARIOS)}")
    feeds = []
    for i in range(n):
        name = names[i % len(names)]
        hr, events = SCENARIOS[name]
        sig, beats = synth_ecg(duration_s, fs, hr, events, seed=seed + i)
        sig2 = synth_ecg(duration_s, fs, hr, events, seed=seed + i, lead="V1")[0] if leads == 2 else None
        feeds.append(
            BedFeed(
                patient_id=f"{prefix}-{i:04d}",
                bed=f"SIM-{i + 1:03d}",
                fs_hz=fs,
                lead="II",
                signal_uv=sig,
                truth=beats,
                source=f"synth:{name}",
                lead2="V1" if leads == 2 else None,
                signal2_uv=sig2,
            )
        )
    return feeds


__all__ = ["EVENT_KINDS", "LEADS", "SCENARIOS", "SynthEvent", "synth_beds", "synth_ecg"]
