"""Per-record FASTA statistics: length, alphabet, GC content, k-mer profile.

Parsing uses Biopython's ``SeqIO`` FASTA parser (Cock et al., Biopython: freely available Python
tools for computational molecular biology and bioinformatics, Bioinformatics 25(11), 2009).
Alphabets are the IUPAC nucleotide and amino-acid codes (Cornish-Bowden A, Nomenclature for
incompletely specified bases in nucleic acid sequences, Nucleic Acids Res 13(9), 1985; IUPAC-IUB
JCBN, Nomenclature and symbolism for amino acids and peptides, 1984). This module does no file
I/O: callers pass the text.
"""

from __future__ import annotations

import io
import logging
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from Bio import SeqIO

log = logging.getLogger(__name__)

Alphabet = Literal["nucleotide", "protein"]

#: Unambiguous nucleotides (DNA and RNA).
NUCLEOTIDE_STRICT = frozenset("ACGTU")
#: IUPAC nucleotide codes incl. ambiguity codes and the gap ``-``.
NUCLEOTIDE_IUPAC = frozenset("ACGTURYSWKMBDHVN-")
#: IUPAC amino-acid one-letter codes incl. B, Z, X, J, U (Sec), O (Pyl), stop ``*`` and gap.
PROTEIN_IUPAC = frozenset("ACDEFGHIKLMNPQRSTVWYBZXJUO*-")
#: Share of strict A/C/G/T/U/N above which a sequence that fits both alphabets is nucleotide.
NUCLEOTIDE_MIN_FRACTION = 0.9

_ALPHABETS = {"nucleotide": NUCLEOTIDE_IUPAC, "protein": PROTEIN_IUPAC}


class FastaFormatError(ValueError):
    """The text is not FASTA (no records, or not parseable)."""


class InvalidAlphabetError(ValueError):
    """A record holds characters outside its alphabet.

    Attributes
    ----------
    record_id : str
        Id of the offending record.
    bad_chars : list of str
        The distinct offending characters, in order of first appearance.
    position : int
        1-based position in the record's sequence of the first offending character.
    """

    def __init__(self, record_id: str, bad_chars: list[str], position: int, alphabet: str) -> None:
        self.record_id = record_id
        self.bad_chars = bad_chars
        self.position = position
        self.alphabet = alphabet
        shown = ", ".join(repr(c) for c in bad_chars)
        super().__init__(
            f"record {record_id!r}: invalid {alphabet} character(s) {shown}; "
            f"first at sequence position {position}"
        )


@dataclass(frozen=True)
class RecordStats:
    """Statistics of one FASTA record (units: residues; ``gc_pct`` in percent)."""

    id: str
    description: str
    length: int
    alphabet: Alphabet
    gc_pct: float | None
    composition: dict[str, int]
    k: int
    n_kmers: int
    distinct_kmers: int
    top_kmers: list[tuple[str, int]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["top_kmers"] = [{"kmer": s, "count": n} for s, n in self.top_kmers]
        return d


def alphabet_detect(seq: str) -> Alphabet:
    """Decide whether ``seq`` (upper case) is nucleotide or protein.

    Parameters
    ----------
    seq : str
        Upper-case sequence.

    Returns
    -------
    {"nucleotide", "protein"}
        Nucleotide when every character is an IUPAC nucleotide code and at least
        :data:`NUCLEOTIDE_MIN_FRACTION` of the non-gap characters are A/C/G/T/U/N (so that a
        short peptide such as ``"ACDC"`` is not mistaken for DNA only if it has non-ACGTUN
        letters); protein otherwise.

    Raises
    ------
    InvalidAlphabetError
        If a character belongs to neither alphabet (reported with record id ``"?"``).
    """
    chars = set(seq)
    if chars <= NUCLEOTIDE_IUPAC:
        residues = [c for c in seq if c != "-"]
        if not residues:
            return "nucleotide"
        strict = sum(1 for c in residues if c in NUCLEOTIDE_STRICT or c == "N")
        if strict / len(residues) >= NUCLEOTIDE_MIN_FRACTION:
            return "nucleotide"
    if chars <= PROTEIN_IUPAC:
        return "protein"
    _raise_invalid("?", seq, PROTEIN_IUPAC | NUCLEOTIDE_IUPAC, "nucleotide/protein")
    raise AssertionError("unreachable")


def alphabet_validate(record_id: str, seq: str, alphabet: Alphabet) -> None:
    """Raise :class:`InvalidAlphabetError` if ``seq`` has characters outside ``alphabet``."""
    allowed = _ALPHABETS[alphabet]
    if not set(seq) <= allowed:
        _raise_invalid(record_id, seq, allowed, alphabet)


def _raise_invalid(record_id: str, seq: str, allowed: frozenset[str], alphabet: str) -> None:
    bad: list[str] = []
    first = 0
    for i, c in enumerate(seq):
        if c not in allowed:
            if not bad:
                first = i + 1
            if c not in bad:
                bad.append(c)
    raise InvalidAlphabetError(record_id, bad, first, alphabet)


def gc_content(seq: str) -> float:
    """GC content in percent of the unambiguous bases (A, C, G, T, U); ``S`` counts as G/C.

    Ambiguous codes other than ``S`` and gaps are left out of the denominator, so ``N`` runs in
    a draft sequence do not dilute the value.
    """
    counts = Counter(seq)
    gc = counts["G"] + counts["C"] + counts["S"]
    at = counts["A"] + counts["T"] + counts["U"] + counts["W"]
    total = gc + at
    return 100.0 * gc / total if total else 0.0


def kmer_profile(seq: str, k: int, alphabet: Alphabet | None = None) -> Counter[str]:
    """Count overlapping k-mers of ``seq``; k-mers containing a gap or ``N``/``X`` are skipped."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    skip = set("-*") | ({"N"} if alphabet == "nucleotide" else {"X"} if alphabet == "protein" else set())
    out: Counter[str] = Counter()
    for i in range(len(seq) - k + 1):
        kmer = seq[i : i + k]
        if skip.isdisjoint(kmer):
            out[kmer] += 1
    return out


def record_stats(
    record_id: str,
    description: str,
    seq: str,
    *,
    k: int = 3,
    top: int = 10,
    alphabet: Alphabet | Literal["auto"] = "auto",
) -> RecordStats:
    """Statistics of one sequence.

    Parameters
    ----------
    record_id, description : str
        From the FASTA header.
    seq : str
        Sequence (any case; white space removed by the parser).
    k : int
        k-mer length.
    top : int
        Number of most frequent k-mers to keep (ties broken alphabetically).
    alphabet : {"auto", "nucleotide", "protein"}
        Declared alphabet, or ``"auto"`` to detect it.

    Raises
    ------
    InvalidAlphabetError
        If ``seq`` has a character outside the (declared or any) alphabet.
    """
    if alphabet not in ("auto", "nucleotide", "protein"):
        raise ValueError(f"unknown alphabet {alphabet!r}; valid: 'auto', 'nucleotide', 'protein'")
    s = seq.upper()
    if alphabet == "auto":
        try:
            alpha: Alphabet = alphabet_detect(s)
        except InvalidAlphabetError as e:
            raise InvalidAlphabetError(record_id, e.bad_chars, e.position, e.alphabet) from None
    else:
        alpha = alphabet
        alphabet_validate(record_id, s, alpha)
    kmers = kmer_profile(s, k, alpha)
    ranked = sorted(kmers.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return RecordStats(
        id=record_id,
        description=description,
        length=len(s),
        alphabet=alpha,
        gc_pct=round(gc_content(s), 3) if alpha == "nucleotide" else None,
        composition=dict(sorted(Counter(s).items())),
        k=k,
        n_kmers=sum(kmers.values()),
        distinct_kmers=len(kmers),
        top_kmers=ranked,
    )


def fasta_stats(
    text: str, *, k: int = 3, top: int = 10, alphabet: Alphabet | Literal["auto"] = "auto"
) -> list[RecordStats]:
    """Parse FASTA ``text`` with Biopython and return one :class:`RecordStats` per record.

    Parameters
    ----------
    text : str
        Whole FASTA file content.
    k, top, alphabet
        See :func:`record_stats`.

    Returns
    -------
    list of RecordStats

    Raises
    ------
    FastaFormatError
        If the text holds no FASTA record or Biopython rejects it.
    InvalidAlphabetError
        If a record holds characters outside its alphabet (names the characters and position).

    Examples
    --------
    >>> [r.gc_pct for r in fasta_stats(">a\\nACGTGC\\n>b\\nAATT\\n")]
    [66.667, 0.0]
    """
    if "\x00" in text:
        raise FastaFormatError("not FASTA: binary content (NUL bytes)")
    try:
        records = list(SeqIO.parse(io.StringIO(text), "fasta"))
    except ValueError as e:
        first_line = str(e).splitlines()[0] if str(e) else repr(e)
        raise FastaFormatError(f"not FASTA: {first_line}") from None
    if not records:
        raise FastaFormatError("not FASTA: no record (no line starting with '>')")
    out = [record_stats(r.id, r.description, str(r.seq), k=k, top=top, alphabet=alphabet) for r in records]
    log.debug("fasta_stats: %d records, k=%d", len(out), k)
    return out


def fasta_summary(stats: list[RecordStats]) -> dict[str, Any]:
    """File-level summary: record count, alphabets, total/min/max length, mean GC (nucleotide)."""
    lengths = [s.length for s in stats]
    gcs = [s.gc_pct for s in stats if s.gc_pct is not None]
    ids = Counter(s.id for s in stats)
    return {
        "n_records": len(stats),
        "alphabets": sorted({s.alphabet for s in stats}),
        "total_length": sum(lengths),
        "min_length": min(lengths) if lengths else 0,
        "max_length": max(lengths) if lengths else 0,
        "mean_gc_pct": round(sum(gcs) / len(gcs), 3) if gcs else None,
        "duplicate_ids": sorted(i for i, n in ids.items() if n > 1),
    }
