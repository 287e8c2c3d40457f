from __future__ import annotations

import pytest
from Bio.SeqUtils import gc_fraction

from batch.genomic.fasta import (
    FastaFormatError,
    InvalidAlphabetError,
    alphabet_detect,
    fasta_stats,
    fasta_summary,
    gc_content,
    kmer_profile,
)


def test_hiv_genome_stats_match_biopython(fasta_dir):
    text = (fasta_dir / "NC_001802.fna").read_text()
    [rec] = fasta_stats(text, k=3, top=5)
    assert rec.id == "gi|9629357|ref|NC_001802.1|"
    assert rec.alphabet == "nucleotide"
    assert rec.length == 9181
    from Bio import SeqIO

    seq = str(next(SeqIO.parse(fasta_dir / "NC_001802.fna", "fasta")).seq)
    assert rec.gc_pct == pytest.approx(100 * gc_fraction(seq), abs=1e-3)
    assert rec.n_kmers == 9181 - 2
    assert sum(kmer_profile(seq, 3).values()) == rec.n_kmers
    assert rec.top_kmers[0] == ("AAA", seq.count("AAA") - _overlap_extra(seq, "AAA"))


def _overlap_extra(seq: str, kmer: str) -> int:
    # str.count does not count overlapping hits; count them directly instead.
    overlapping = sum(1 for i in range(len(seq) - len(kmer) + 1) if seq[i : i + len(kmer)] == kmer)
    return seq.count(kmer) - overlapping


def test_lower_case_file_gives_the_same_stats(fasta_dir):
    up = fasta_stats((fasta_dir / "NC_001802.fna").read_text())[0]
    low = fasta_stats((fasta_dir / "NC_001802lc.fna").read_text())[0]
    assert (up.length, up.gc_pct, up.top_kmers) == (low.length, low.gc_pct, low.top_kmers)


@pytest.mark.parametrize(
    "name,n,alphabet",
    [
        ("ls_orchid.fasta", 94, "nucleotide"),
        ("NC_000932.faa", 85, "protein"),
        ("NC_005816.faa", 10, "protein"),
        ("opuntia.fasta", 7, "nucleotide"),
        ("protein_lib.fa", 12, "protein"),
        ("m_cold.fasta", 1, "nucleotide"),
    ],
)
def test_real_files_record_count_and_alphabet(fasta_dir, name, n, alphabet):
    stats = fasta_stats((fasta_dir / name).read_text(), k=2)
    assert len(stats) == n
    assert {s.alphabet for s in stats} == {alphabet}
    assert all(s.gc_pct is None for s in stats) == (alphabet == "protein")


def test_duplicate_ids_are_reported(fasta_dir):
    s = fasta_summary(fasta_stats((fasta_dir / "dups.fasta").read_text()))
    assert s["n_records"] == 5 and s["duplicate_ids"] == ["alpha"]


def test_gc_ignores_ambiguous_bases():
    assert gc_content("GGCCNNNNAT") == pytest.approx(100 * 4 / 6)
    [r] = fasta_stats(">x\nACGTGC\n")
    assert r.gc_pct == pytest.approx(66.667, abs=1e-3)


def test_kmer_profile_counts_overlaps_and_skips_n():
    assert kmer_profile("AAAA", 2) == {"AA": 3}
    assert kmer_profile("AANAA", 2, "nucleotide") == {"AA": 2}
    with pytest.raises(ValueError):
        kmer_profile("ACGT", 0)


def test_alphabet_detection():
    assert alphabet_detect("ACGTACGTNN") == "nucleotide"
    assert alphabet_detect("MVLSPADKTNVKAAW") == "protein"
    # Only IUPAC-nucleotide letters but mostly ambiguity codes: a peptide, not DNA.
    assert alphabet_detect("ARNDCKMSW") == "protein"


def test_invalid_alphabet_error_names_characters_and_position():
    with pytest.raises(InvalidAlphabetError) as ei:
        fasta_stats(">ok\nACGT\n>bad one\nACGTAC1GT@A\n")
    e = ei.value
    assert e.record_id == "bad" and e.bad_chars == ["1", "@"] and e.position == 7
    assert "'1'" in str(e) and "'@'" in str(e) and "position 7" in str(e) and "'bad'" in str(e)


def test_declared_nucleotide_rejects_protein_letters():
    with pytest.raises(InvalidAlphabetError, match=r"'E'.*position 3"):
        fasta_stats(">p\nACEGT\n", alphabet="nucleotide")
    with pytest.raises(ValueError, match="valid"):
        fasta_stats(">p\nACGT\n", alphabet="rna")  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["", "just some text\n", "\x00\x01\x02"])
def test_not_fasta_is_a_format_error(text):
    with pytest.raises(FastaFormatError, match="not FASTA"):
        fasta_stats(text)
