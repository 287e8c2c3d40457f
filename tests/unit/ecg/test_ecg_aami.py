"""AAMI EC57 mapping of MIT-BIH beat symbols (de Chazal et al. 2004, Table I)."""

from models.ecg.aami import AAMI_CLASSES, MITBIH_TO_AAMI, aami_class, is_beat


def test_every_mitbih_beat_symbol_maps_to_its_aami_class():
    expected = {"N": "NLRej", "S": "AaJS", "V": "VE", "F": "F", "Q": "/fQ"}
    for cls, symbols in expected.items():
        for s in symbols:
            assert aami_class(s) == cls, s
    assert sorted(MITBIH_TO_AAMI) == sorted("".join(expected.values()))
    assert AAMI_CLASSES == ("N", "S", "V", "F", "Q")


def test_non_beat_annotations_are_ignored():
    for s in ["+", "~", "|", '"', "x", "[", "]", "!", "p", "t", "u", "(", ")", "=", "^"]:
        assert aami_class(s) is None and not is_beat(s)
