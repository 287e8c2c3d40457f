"""De-identification by the DICOM Basic Application Level Confidentiality Profile.

Implements the "Basic Prof." column of DICOM PS3.15 Annex E, Table E.1-1 (transcribed in
:mod:`batch.image.profile_table`) over a pydicom ``Dataset``, recursively into sequences:

- ``X`` remove; ``Z`` zero-length value; ``D`` dummy value of the element's VR;
  ``U`` UID replaced by a keyed hash of the original (``2.25.<int>``), so that the same
  original UID maps to the same new UID in every instance de-identified with the same key
  (PS3.15 E.3.9: "internally consistent within a set of instances").
- Conditional actions: the profile allows the weaker-but-conformant choice when the IOD needs
  the attribute (Type 1/2). Without the IOD's module tables we take the conformant choice,
  which removes the identifying value just as well: ``X/Z`` -> Z, ``X/D`` -> D, ``X/Z/D`` -> Z,
  ``Z/D`` -> D, and ``X/Z/U*`` -> keep the sequence and apply the profile inside it (its
  instance UIDs are replaced by ``U``).
- Private attributes are removed (Table E.1-1, "private attributes": X; PS3.15 E.3.10).
- Curves (50xx,xxxx) and overlay data/comments (60xx,3000/4000) are removed.
- The result is flagged as PS3.15 E.1.1 asks: Patient Identity Removed (0012,0062) = YES,
  De-identification Method (0012,0063) and its Code Sequence (0012,0064) with DCM 113100
  "Basic Application Confidentiality Profile"; Longitudinal Temporal Information Modified
  (0028,0303) = REMOVED when dates/times were changed.

Burned-in text in pixel data (Burned In Annotation (0028,0301) = YES) is not cleaned: the
caller must not store pixel-derived artifacts of such an instance (see the image handler).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag

from batch.image.profile_table import TABLE_E1_1

PROFILE_NAME = "DICOM PS3.15 E.1-1 Basic Application Level Confidentiality Profile"
PROFILE_CODE = ("113100", "DCM", "Basic Application Confidentiality Profile")
DEID_VERSION = "1.0"

# Resolution of the conditional actions (see module docstring).
RESOLVE = {
    "X": "X",
    "Z": "Z",
    "D": "D",
    "U": "U",
    "X/Z": "Z",
    "X/D": "D",
    "X/Z/D": "Z",
    "Z/D": "D",
    "X/Z/U*": "U*",
}


@dataclass(frozen=True)
class ProfileRow:
    """One row of Table E.1-1: the tag (or a repeating-group pattern), action and name."""

    group: int
    element: int | None  # None: every element of the group (curves "50xx,xxxx")
    action: str
    name: str
    repeating: bool  # group given as "50xx"/"60xx": matches (group & 0xFF00)

    def matches(self, tag: BaseTag) -> bool:
        g = tag.group & 0xFF00 if self.repeating else tag.group
        if g != self.group:
            return False
        return self.element is None or tag.element == self.element

    @property
    def tag_str(self) -> str:
        g = f"{self.group >> 8:02X}xx" if self.repeating else f"{self.group:04X}"
        e = "xxxx" if self.element is None else f"{self.element:04X}"
        return f"({g},{e})"


def _parse_table(text: str) -> tuple[ProfileRow, ...]:
    rows = []
    for line in text.strip().splitlines():
        tag, action, name = line.split(" ", 2)
        g, e = tag.strip("()").split(",")
        repeating = g.endswith("xx")
        rows.append(
            ProfileRow(
                int(g[:2], 16) << 8 if repeating else int(g, 16),
                None if e == "xxxx" else int(e, 16),
                action,
                name,
                repeating,
            )
        )
    return tuple(rows)


PROFILE: tuple[ProfileRow, ...] = _parse_table(TABLE_E1_1)
_BY_TAG: dict[int, ProfileRow] = {
    (r.group << 16) | r.element: r for r in PROFILE if not r.repeating and r.element is not None
}
_REPEATING = [r for r in PROFILE if r.repeating]


def profile_row(tag: BaseTag) -> ProfileRow | None:
    """The Table E.1-1 row governing ``tag``, or None when the profile keeps it."""
    row = _BY_TAG.get(int(tag))
    if row is not None:
        return row
    return next((r for r in _REPEATING if r.matches(tag)), None)


# Dummy values per VR (PS3.15 E.3.1: "a non-zero length value that may be a dummy value and
# consistent with the VR").
_DUMMY: dict[str, Any] = {
    "PN": "ANONYMIZED",
    "LO": "ANONYMIZED",
    "SH": "ANONYMIZED",
    "LT": "ANONYMIZED",
    "ST": "ANONYMIZED",
    "UT": "ANONYMIZED",
    "UC": "ANONYMIZED",
    "CS": "ANONYMIZED",
    "AE": "ANONYMIZED",
    "UR": "http://anonymized",
    "DA": "19000101",
    "TM": "000000.00",
    "DT": "19000101000000.000000",
    "AS": "000Y",
    "IS": "0",
    "DS": "0",
    "US": 0,
    "SS": 0,
    "UL": 0,
    "SL": 0,
    "FL": 0.0,
    "FD": 0.0,
    "SV": 0,
    "UV": 0,
    "AT": 0,
    "OB": b"\x00\x00",
    "OW": b"\x00\x00",
    "OD": b"\x00" * 8,
    "OF": b"\x00" * 4,
    "OL": b"\x00" * 4,
    "OV": b"\x00" * 8,
    "UN": b"\x00\x00",
}
_TEMPORAL_VRS = {"DA", "TM", "DT"}


@dataclass
class DeidReport:
    """What the profile did: attribute paths (tag + keyword) per action, for the result."""

    removed: list[str] = field(default_factory=list)
    zeroed: list[str] = field(default_factory=list)
    dummied: list[str] = field(default_factory=list)
    uids_replaced: list[str] = field(default_factory=list)
    private_removed: int = 0
    temporal_modified: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "profile": PROFILE_NAME,
            "profile_code": list(PROFILE_CODE),
            "removed": sorted(set(self.removed)),
            "replaced_zero_length": sorted(set(self.zeroed)),
            "replaced_dummy": sorted(set(self.dummied)),
            "uids_replaced": sorted(set(self.uids_replaced)),
            "private_attributes_removed": self.private_removed,
            "counts": {
                "removed": len(self.removed),
                "zero_length": len(self.zeroed),
                "dummy": len(self.dummied),
                "uid": len(self.uids_replaced),
                "private": self.private_removed,
            },
        }


def replace_uid(uid: str, key: bytes) -> str:
    """Deterministic replacement UID: ``2.25.`` + a keyed hash of ``uid`` (PS3.5 B.2 UUID form).

    The same ``uid`` and ``key`` always give the same result; without the key the original
    cannot be recovered or confirmed by hashing candidate UIDs.

    >>> replace_uid("1.2.3", b"k") == replace_uid("1.2.3", b"k")
    True
    """
    digest = hmac.new(key, uid.strip().encode(), hashlib.sha256).digest()[:16]
    return "2.25." + str(int.from_bytes(digest, "big"))


def _label(elem: DataElement, path: str) -> str:
    name = elem.keyword or (row.name if (row := profile_row(elem.tag)) else "")
    return f"{path}{elem.tag.group:04X},{elem.tag.element:04X} {name}".strip()


def _apply(ds: Dataset, key: bytes, report: DeidReport, path: str = "") -> None:
    for elem in list(ds):
        tag = elem.tag
        if tag.is_private:
            del ds[tag]
            report.private_removed += 1
            continue
        row = profile_row(tag)
        if row is None:
            if elem.VR == "SQ":  # keep the sequence, clean what it contains
                _apply_items(elem, key, report, path)
            continue  # not in the table: kept (e.g. SOP Class UID, pixel module)
        action = RESOLVE[row.action]
        label = _label(elem, path)
        if elem.VR in _TEMPORAL_VRS and action != "U*":
            report.temporal_modified = True
        if action == "X":
            del ds[tag]
            report.removed.append(label)
        elif action == "Z":
            _zero(elem)
            report.zeroed.append(label)
        elif action == "D":
            _dummy(elem, key)
            report.dummied.append(label)
        elif action == "U":
            _replace_uids(elem, key)
            report.uids_replaced.append(label)
        elif action == "U*":  # keep the sequence; the profile applies inside (UIDs -> U)
            _apply_items(elem, key, report, path)
            report.uids_replaced.append(label)


def _apply_items(elem: DataElement, key: bytes, report: DeidReport, path: str) -> None:
    """Apply the profile inside every item of a sequence element."""
    for i, item in enumerate(elem.value or []):
        _apply(item, key, report, f"{path}{elem.tag.group:04X},{elem.tag.element:04X}[{i}]/")


def _zero(elem: DataElement) -> None:
    """Action Z: a zero-length value of the element's own kind."""
    if elem.VR == "SQ":
        elem.value = Sequence()
    elif elem.VR in _NUMERIC:
        elem.value = None
    else:
        elem.value = b"" if elem.VR in _BINARY else ""


def _dummy(elem: DataElement, key: bytes) -> None:
    """Action D: a dummy value of the same VR."""
    if elem.VR == "SQ":  # a dummy sequence: no items (nothing identifying survives)
        elem.value = Sequence()
    elif elem.VR == "UI":
        elem.value = replace_uid(str(elem.value or "0"), key)
    else:
        elem.value = _DUMMY.get(elem.VR, "ANONYMIZED")


def _replace_uids(elem: DataElement, key: bytes) -> None:
    """Action U: every UID replaced by its keyed surrogate."""
    if elem.VR == "UI":
        vals = elem.value if elem.VM > 1 else [elem.value]
        new = [replace_uid(str(v), key) for v in vals if v]
        elem.value = new if elem.VM > 1 else (new[0] if new else "")
    else:  # an odd VR for a U row: do not keep the value
        elem.value = "" if elem.VR != "SQ" else Sequence()


_BINARY = {"OB", "OW", "OD", "OF", "OL", "OV", "UN"}
_NUMERIC = {"US", "SS", "UL", "SL", "FL", "FD", "SV", "UV", "AT"}


def deidentify(ds: Dataset, key: bytes) -> tuple[Dataset, DeidReport]:
    """De-identify ``ds`` in place by the Basic profile; returns ``(ds, report)``.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
        A dataset read with ``dcmread`` (its ``file_meta`` is updated too).
    key : bytes
        Secret key of the UID mapping: the same key maps a UID to the same replacement in
        every instance (study/series consistency across jobs and workers).

    Returns
    -------
    (Dataset, DeidReport)
    """
    if not key:
        raise ValueError("a non-empty key is required for consistent UID replacement")
    report = DeidReport()
    _apply(ds, key, report)
    meta = getattr(ds, "file_meta", None)
    if meta is not None and "MediaStorageSOPInstanceUID" in meta:
        # (0002,0003) U, and it must equal the new SOP Instance UID (PS3.10 7.1).
        meta.MediaStorageSOPInstanceUID = ds.get("SOPInstanceUID") or replace_uid(
            str(meta.MediaStorageSOPInstanceUID), key
        )
        report.uids_replaced.append("0002,0003 MediaStorageSOPInstanceUID")
    # PS3.15 E.1.1: mark the instance as de-identified and say how.
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = "DICOM PS3.15 E.1-1 Basic Profile (WardWatch)"  # LO: <= 64 chars
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = PROFILE_CODE
    ds.DeidentificationMethodCodeSequence = Sequence([code])
    if report.temporal_modified:
        ds.LongitudinalTemporalInformationModified = "REMOVED"
    return ds, report


def surviving_identifiers(ds: Dataset, original: Dataset | None = None) -> list[str]:
    """Check ``ds`` against Table E.1-1; return violations (empty list = compliant).

    A row's attribute may survive only as the action allows: X -> absent; Z -> empty;
    D -> a value different from the original's; U -> a UID different from the original's.
    Private attributes must be absent. Used by the tests and available to operators.
    """
    problems: list[str] = []
    orig_values: dict[int, list[Any]] = {}
    if original is not None:
        for e in _walk(original):
            orig_values.setdefault(int(e.tag), []).append(e.value)
    for elem in _walk(ds):
        if elem.tag.is_private:
            problems.append(f"private {elem.tag} survives")
            continue
        row = profile_row(elem.tag)
        if row is None:
            continue
        action = RESOLVE[row.action]
        empty = elem.value in (None, "", b"") or (elem.VR == "SQ" and len(elem.value) == 0)
        before = orig_values.get(int(elem.tag), [])
        if action == "X":
            problems.append(f"{row.tag_str} {row.name}: should be removed")
        elif action == "Z" and not empty:
            problems.append(f"{row.tag_str} {row.name}: should be zero-length")
        elif action in ("D", "U") and not empty and elem.VR != "SQ" and elem.value in before:
            problems.append(f"{row.tag_str} {row.name}: original value survives")
        elif action == "D" and elem.VR == "SQ" and not empty:
            problems.append(f"{row.tag_str} {row.name}: sequence content survives")
    return problems


def _walk(ds: Dataset):
    for elem in ds:
        yield elem
        if elem.VR == "SQ":
            for item in elem.value or []:
                yield from _walk(item)
