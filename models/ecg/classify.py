"""Beat classification: the batched AAMI beat classifier on the TFLite (LiteRT) artifacts, and the
patient-context corrections of its labels.

``BeatClassifier`` classifies a batch of :class:`models.ecg.beats.BeatCandidate` (from many
patients at once); :func:`context_labels` is the one place the stream, the evaluation and the
training CV turn the models' probabilities into beat labels. No Kafka, no Faust; the only I/O is
``BeatClassifier`` loading its model files.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from models.ecg import morphology, rhythm, sveb_rr
from models.ecg.aami import AAMI_CLASSES
from models.ecg.beats import N_RR, WAVE_LEN, BeatCandidate, stack_inputs
from models.ecg.morphology import FamilyVotes

DEFAULT_MODEL = Path(__file__).resolve().parent / "artifacts" / "ecg_beat_cnn.tflite"
DEFAULT_MODEL_2LEAD = DEFAULT_MODEL.with_name("ecg_beat_cnn_2lead.tflite")


class _Lite:
    """One TFLite (LiteRT) beat model: inputs ``(n, WAVE_LEN, channels)`` and ``(n, N_RR)``."""

    def __init__(self, path: Path, num_threads: int) -> None:
        from ai_edge_litert.interpreter import Interpreter

        meta_path = path.with_suffix(".json")
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        self.version: str = str(meta.get("version", path.stem))
        self.classes: tuple[str, ...] = tuple(meta.get("classes", AAMI_CLASSES))
        self._interp = Interpreter(model_path=str(path), num_threads=num_threads)
        ins = self._interp.get_input_details()
        wave_in = next(d for d in ins if len(d["shape"]) == 3)
        self.channels = int(wave_in["shape"][2])
        self._wave_idx = wave_in["index"]
        self._rr_idx = next(d["index"] for d in ins if len(d["shape"]) == 2)
        self._out_idx = self._interp.get_output_details()[0]["index"]
        self._batch = -1

    def __call__(self, wave: np.ndarray, rr: np.ndarray) -> np.ndarray:
        n = int(wave.shape[0])
        if n == 0:
            return np.zeros((0, len(self.classes)), np.float32)
        if n != self._batch:
            self._interp.resize_tensor_input(self._wave_idx, [n, WAVE_LEN, self.channels])
            self._interp.resize_tensor_input(self._rr_idx, [n, N_RR])
            self._interp.allocate_tensors()
            self._batch = n
        self._interp.set_tensor(self._wave_idx, np.ascontiguousarray(wave, dtype=np.float32))
        self._interp.set_tensor(self._rr_idx, np.ascontiguousarray(rr, dtype=np.float32))
        self._interp.invoke()
        return np.array(self._interp.get_tensor(self._out_idx))


class BeatClassifier:
    """Batched AAMI beat classifier on the TFLite (LiteRT) artifacts.

    Beats with a second-lead window (``wave2``) go to the two-lead model, the others to the
    single-lead model; one call classifies a batch from any number of patients.

    Parameters
    ----------
    model_path : str or Path, optional
        Single-lead ``.tflite`` file; defaults to the committed artifact. Its sibling ``*.json``
        metadata gives the ``version``.
    model2_path : str or Path or False, optional
        Two-lead ``.tflite`` file; defaults to the committed one; ``False`` classifies every
        beat with the single-lead model.
    num_threads : int
        Interpreter threads.
    context : bool
        Correct the models' labels with the patient's own context (default): p(V) voted by the
        beat's morphology family when :meth:`predict` is given the patients' votes
        (:func:`models.ecg.morphology.family_vote`), no S in an irregular rhythm
        (:func:`models.ecg.rhythm.rhythm_labels`), no V for a QRS that matches the patient's
        average beat (:func:`models.ecg.morphology.morphology_labels`), and S or N for the beats
        labelled N or S decided by the RR model (``sveb``). False gives the models' own argmax
        (for measuring the rules).
    sveb : RRModel or str or Path or False, optional
        The S / N model on RR intervals (:mod:`models.ecg.sveb_rr`) applied with the context
        rules: an :class:`~models.ecg.sveb_rr.RRModel`, a JSON artifact path, or by default the
        committed one; ``False`` leaves S / N to the networks (for measuring the model).

    Attributes
    ----------
    version : str
        Model version(s) (training seeds, data and content hash) for alert evidence:
        ``"<single>[+<two-lead>][+<rhythm rule>+<template rule>+<family vote>[+<RR model>]]"``.
    classes : tuple of str
        Output order, ``("N", "S", "V", "F", "Q")``.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        num_threads: int = 1,
        model2_path: str | Path | bool | None = None,
        context: bool = True,
        sveb: sveb_rr.RRModel | str | Path | bool | None = None,
    ) -> None:
        self.context = context
        if sveb is False or not context:
            self.sveb: sveb_rr.RRModel | None = None
        elif isinstance(sveb, sveb_rr.RRModel):
            self.sveb = sveb
        else:
            self.sveb = sveb_rr.load(sveb if isinstance(sveb, (str, Path)) else sveb_rr.DEFAULT_PATH)
        self._one = _Lite(Path(model_path) if model_path is not None else DEFAULT_MODEL, num_threads)
        if model2_path is False:
            self._two = None
        else:
            p2 = Path(model2_path) if isinstance(model2_path, (str, Path)) else DEFAULT_MODEL_2LEAD
            self._two = _Lite(p2, num_threads) if (model2_path is not None or p2.exists()) else None
        self.classes = self._one.classes
        if self._two is not None and self._two.classes != self.classes:
            raise ValueError("single- and two-lead models disagree on the class order")
        self.version = (
            self._one.version
            + (f"+{self._two.version}" if self._two else "")
            + (f"+{rhythm.VERSION}+{morphology.VERSION}+{morphology.FAMILY_VERSION}" if context else "")
            + (f"+{self.sveb.version}" if self.sveb else "")
        )

    def predict_proba(self, wave: np.ndarray, rr: np.ndarray) -> np.ndarray:
        """Class probabilities ``(n, 5)`` for stacked inputs (see :func:`stack_inputs`): 2 wave
        channels go to the single-lead model, 4 to the two-lead model."""
        if wave.shape[-1] == 4:
            if self._two is None:
                raise ValueError("no two-lead model loaded")
            return self._two(wave, rr)
        return self._one(wave, rr)

    def predict(
        self, beats: Sequence[BeatCandidate], votes: FamilyVotes | Sequence[FamilyVotes] | None = None
    ) -> tuple[list[str], np.ndarray]:
        """Classify a batch of candidates (from any number of patients).

        Parameters
        ----------
        beats : sequence of BeatCandidate
            Each patient's beats in stream order (patients may interleave).
        votes : dict or sequence of dict, optional
            The patients' morphology family votes (:func:`models.ecg.morphology.family_vote`):
            per beat, its patient's plain JSON dict kept with the patient's state (the same
            object for all of one patient's beats), or one dict when all beats are one
            patient's; updated in place. Without them the family vote is not applied.

        Returns
        -------
        (labels, proba) : tuple
            AAMI class per beat (the argmax after the family vote, then the context rules;
            without ``context``, the models' argmax) and the models' ``(n, 5)`` probabilities.
        """
        proba = np.zeros((len(beats), len(self.classes)), np.float32)
        two = [i for i, b in enumerate(beats) if b.wave2 is not None] if self._two else []
        one = sorted(set(range(len(beats))) - set(two))
        matches = np.zeros(len(beats), dtype=bool)
        rr_all = np.zeros((len(beats), N_RR), np.float32)  # the RR model's input, stacked once
        for idx, two_lead in ((one, False), (two, True)):
            if idx:
                wave, rr = stack_inputs([beats[i] for i in idx], two_lead)
                rr_all[idx] = rr
                proba[idx] = self.predict_proba(wave, rr)
                if self.context:
                    matches[idx] = morphology.template_matches(wave)  # the leads this model saw
        if not self.context:
            return [self.classes[i] for i in np.argmax(proba, axis=1)], proba
        if isinstance(votes, dict):
            votes = [votes] * len(beats)
        labels = context_labels(
            proba,
            [b.irregular for b in beats],
            matches.tolist(),
            [b.family for b in beats],
            votes,
            self.classes,
            rr=rr_all,
            sveb=self.sveb,
        )
        return labels, proba


def context_labels(
    proba: np.ndarray,
    irregular: Sequence[bool],
    matches: Sequence[bool],
    family: Sequence[int] | None = None,
    votes: Sequence[FamilyVotes] | None = None,
    classes: Sequence[str] = AAMI_CLASSES,
    rr: np.ndarray | None = None,
    sveb: sveb_rr.RRModel | None = None,
) -> list[str]:
    """The stream's beat labels from the models' probabilities and the patient's context (the one
    place the stream, the evaluation and the training CV label beats).

    In order: p(V) voted by the beat's morphology family when ``votes`` are given (per beat, its
    patient's vote dict, updated in place, beats in stream order;
    :func:`models.ecg.morphology.family_vote`, :func:`models.ecg.morphology.vote_proba`), the
    argmax, S or N for the beats labelled N or S decided by the RR model ``sveb`` from the beats'
    RR features ``rr`` when both are given (:func:`models.ecg.sveb_rr.rr_labels`), no doubtful S
    in an irregular rhythm (:func:`models.ecg.rhythm.rhythm_labels`), no V for a QRS that matches
    the patient's average beat (:func:`models.ecg.morphology.morphology_labels`).
    """
    voted = np.asarray(proba)
    if votes is not None and family is not None:
        v = list(classes).index("V")
        fpv = [
            morphology.family_vote(vs, f, p) if f >= 0 else p
            for f, vs, p in zip(family, votes, voted[:, v].tolist(), strict=True)
        ]
        voted = morphology.vote_proba(voted, np.asarray(fpv), v)
    labels = [classes[i] for i in np.argmax(voted, axis=1)]
    if sveb is not None and rr is not None:
        labels = sveb_rr.rr_labels(labels, sveb.score(rr), sveb.threshold)
    p_s = voted[:, list(classes).index("S")].tolist()
    return morphology.morphology_labels(rhythm.rhythm_labels(labels, irregular, p_s), matches)
