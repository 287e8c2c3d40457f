"""De-identification: no attribute of PS3.15 Table E.1-1 (Basic profile) survives.

The test loads real pydicom test files, plants a value in *every* attribute of the profile
table that pydicom's dictionary knows (top level and inside a sequence), plus private and
repeating-group (curve/overlay) attributes, de-identifies, and then walks the profile table
against the output with its own checks (independent of ``surviving_identifiers``).
"""

from __future__ import annotations

import copy
import io
import warnings

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.datadict import dictionary_VR
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import UID

from batch.image.deid import (
    PROFILE,
    RESOLVE,
    deidentify,
    profile_row,
    replace_uid,
    surviving_identifiers,
)

KEY = b"test-key"
SECRET = "SECRETVALUE"


def _value(vr: str, i: int):
    return {
        "PN": "DOE^JOHN" + str(i),
        "DA": "20200102",
        "TM": "101112",
        "DT": "20200102101112",
        "UI": f"1.2.826.0.1.3680043.10.9999.{i}",
        "AS": "042Y",
        "IS": str(i),
        "DS": "1.5",
        "US": 7,
        "SS": 7,
        "UL": 7,
        "SL": 7,
        "FL": 1.5,
        "FD": 1.5,
        "AT": 0x00100010,
        "OB": b"SECRET",
        "OW": b"SECRET",
        "UN": b"SECRET",
        "UR": "http://secret.example",
        "CS": "SECRETCS",
        "AE": "SECRETAE",
    }.get(vr, f"{SECRET}{i}")


def _planted(name: str) -> Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(get_testdata_file(name))
    nested = Dataset()
    for i, row in enumerate(PROFILE):
        if row.repeating or row.element is None or row.group in (0x0000, 0x0002, 0xFFFA, 0xFFFC):
            continue
        tag = (row.group << 16) | row.element
        try:
            vr = dictionary_VR(tag).split(" or ")[0]
        except KeyError:
            continue  # not in pydicom's dictionary (some trial/retired rows)
        if vr == "SQ":
            item = Dataset()
            item.PatientName = "DOE^NESTED"
            item.ReferencedSOPInstanceUID = f"1.2.826.0.1.3680043.10.9999.5{i}"
            ds.add_new(tag, vr, Sequence([item]))
        else:
            ds.add_new(tag, vr, _value(vr, i))
            nested.add_new(tag, vr, _value(vr, i))
    # a non-profile sequence carrying profile attributes: the profile applies inside it
    ds.add_new(0x00400260, "SQ", Sequence([nested]))  # Performed Protocol Code Sequence
    ds.add_new(0x50000010, "US", 3)  # curve (retired repeating group 50xx)
    ds.add_new(0x60003000, "OW", b"\x01\x02")  # overlay data
    ds.add_new(0x60024000, "LT", "overlay comment " + SECRET)
    block = ds.private_block(0x0011, "ACME SECRET", create=True)
    block.add_new(0x01, "LO", SECRET)
    return ds


def _walk(ds: Dataset):
    for e in ds:
        yield e
        if e.VR == "SQ":
            for item in e.value:
                yield from _walk(item)


@pytest.mark.parametrize(
    "name", ["CT_small.dcm", "MR_small.dcm", "waveform_ecg.dcm", "liver_1frame.dcm", "SC_rgb_jpeg.dcm"]
)
def test_no_profile_attribute_survives(name):
    ds = _planted(name)
    original = copy.deepcopy(ds)
    orig = {}
    for e in _walk(original):
        orig.setdefault(int(e.tag), []).append(e.value)
    out, report = deidentify(ds, KEY)

    # 1. walk the profile table against every element of the output (any depth)
    for e in _walk(out):
        assert not e.tag.is_private, f"private {e.tag} survives"
        row = profile_row(e.tag)
        if row is None:
            continue
        action = RESOLVE[row.action]
        empty = e.value in (None, "", b"") or (e.VR == "SQ" and len(e.value) == 0)
        assert action != "X", f"{row.tag_str} {row.name} should be removed"
        if action == "Z":
            assert empty, f"{row.tag_str} {row.name} should be zero-length"
        if action == "D" and e.VR == "SQ":
            assert empty, f"{row.tag_str} {row.name}: dummy sequence keeps items"
        if action in ("D", "U") and e.VR != "SQ" and not empty:
            assert e.value not in orig.get(int(e.tag), []), f"{row.tag_str} {row.name} kept"
        if action == "U" and e.VR == "UI" and not empty:
            vals = e.value if e.VM > 1 else [e.value]
            for v in vals:
                assert str(v).startswith("2.25.") and UID(str(v)).is_valid

    # 2. the planted identifiers do not appear anywhere in the written file
    buf = io.BytesIO()
    out.save_as(buf, enforce_file_format=True)
    raw = buf.getvalue()
    for needle in (
        b"DOE^JOHN",
        b"DOE^NESTED",
        SECRET.encode(),
        b"SECRETCS",
        b"secret.example",
        b"1.2.826.0.1.3680043.10.9999.",
    ):
        assert needle not in raw, needle
    for e in _walk(original):  # every original instance UID is gone from the bytes
        row = profile_row(e.tag)
        if row is not None and RESOLVE[row.action] == "U" and e.VR == "UI" and e.value:
            assert str(e.value).encode() not in raw, row.name

    # 3. the shared checker agrees, and the result records what was done
    assert surviving_identifiers(out, original) == []
    d = report.as_dict()
    assert d["counts"]["removed"] > 100 and d["private_attributes_removed"] >= 1
    assert any("PatientName" in x for x in d["replaced_zero_length"])
    assert any("StudyInstanceUID" in x for x in d["uids_replaced"])
    assert out.PatientIdentityRemoved == "YES"
    assert out.DeidentificationMethodCodeSequence[0].CodeValue == "113100"
    assert out.file_meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID


def test_checker_catches_a_leak():
    ds = _planted("CT_small.dcm")
    original = copy.deepcopy(ds)
    out, _ = deidentify(ds, KEY)
    out.PatientAddress = "1 Secret Street"  # X in the profile
    out.PatientName = "DOE^JOHN"  # Z in the profile
    problems = surviving_identifiers(out, original)
    assert any("Patient's Address" in p for p in problems)
    assert any("Patient's Name" in p for p in problems)


def test_uid_replacement_is_consistent_and_keyed():
    a = _planted("CT_small.dcm")
    b = _planted("CT_small.dcm")
    study = a.StudyInstanceUID
    a, _ = deidentify(a, KEY)
    b, _ = deidentify(b, KEY)
    assert a.StudyInstanceUID == b.StudyInstanceUID == replace_uid(study, KEY) != study
    c, _ = deidentify(_planted("CT_small.dcm"), b"other key")
    assert c.StudyInstanceUID != a.StudyInstanceUID
    with pytest.raises(ValueError):
        deidentify(_planted("CT_small.dcm"), b"")


def test_profile_table_is_complete_enough():
    """The table covers the identifiers the brief names, with the standard's actions."""
    by_name = {r.name: r.action for r in PROFILE}
    assert len(PROFILE) > 500
    expected = {
        "Patient's Name": "Z",
        "Patient ID": "Z",
        "Patient's Birth Date": "Z",
        "Patient's Address": "X",
        "Other Patient IDs": "X",
        "Referring Physician's Name": "Z",
        "Performing Physician's Name": "X",
        "Institution Name": "X/Z/D",
        "Institution Address": "X",
        "Study Date": "Z",
        "Series Date": "X/D",
        "Accession Number": "Z",
        "Study Instance UID": "U",
        "SOP Instance UID": "U",
        "Frame of Reference UID": "U",
        "Operators' Name": "X/Z/D",
        "Device Serial Number": "X/Z/D",
        "Station Name": "X/Z/D",
    }
    for name, action in expected.items():
        assert by_name[name] == action, name
