"""Render the model cards from templates and the committed metrics files.

Every card (``MODEL_CARD.md``, the notes pipeline's ``EVALUATION.md``) is rendered from a
Jinja2 template next to it (``<card>.tmpl``) and the JSON files the training and evaluation
commands write, so a card's figures cannot drift from the measured ones. A figure that was
measured once and has no command that writes it lives in a JSON file of its own
(``card_figures.json``) with where it came from.

Templates see each source JSON under its name in :attr:`Card.sources`, and:

``fmt(spec)``
    filter: ``format(value, spec)``, e.g. ``{{ m.n | fmt(",") }}`` -> ``1,194``;
``file_bytes(name)``
    the size of a file next to the card, in bytes;
``text(name)``
    the text of an optional file next to the card, or ``None`` when it does not exist;
``delta(places=2)``
    filter: a signed difference, ``+0.16`` / ``−0.63`` / ``0.00``;
``ci(per_unit, units, num, den, key=None)``
    the 95 % percentile-bootstrap interval over ``units`` of the pooled ``num / sum(den)``
    (:func:`models.intervals.pooled_ci_pct`), as ``"lo–hi"`` in percent, or ``"n/a"``;
``demote(text, level)``
    filter: the text with its first heading dropped and the others moved down so the highest
    is ``level``, for including a Markdown file as a section of the card.

``python -m models.cards`` re-renders every card; ``--check`` renders them and exits 1 when a
committed card differs from its rendering. Only the standard library and Jinja2 are imported,
so this runs without TensorFlow.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from models.intervals import RESAMPLES, pooled_ci_pct

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Card:
    """One rendered document.

    Parameters
    ----------
    path
        The card, relative to the repository root; its template is ``<path>.tmpl``.
    sources
        Template name -> JSON file, relative to the card's folder.
    optional
        Sources that may be missing (the template then sees ``None``).
    """

    path: str
    sources: Mapping[str, str]
    optional: frozenset[str] = field(default_factory=frozenset)

    @property
    def name(self) -> str:
        return Path(self.path).parent.name


CARDS: dict[str, Card] = {
    "ecg": Card(
        "models/ecg/MODEL_CARD.md",
        {
            "m1": "artifacts/metrics.json",
            "m2": "artifacts/metrics_2lead.json",
            "rob": "artifacts/robustness.json",
            "alarms": "../../bench/ecg_alarms_ds1.json",
            "acv": "../../bench/ecg_alarms_ds1_cv.json",
            "rr": "artifacts/sveb_rr.json",
            "h": "card_figures.json",
        },
    ),
    "deterioration": Card(
        "models/deterioration/MODEL_CARD.md",
        {
            "res": "artifacts/metrics.json",
            "unit_shift": "artifacts/unit_shift.json",
            "monitor_shift": "artifacts/monitor_shift.json",
            "labs_absent": "artifacts/labs_absent_shift.json",
            "ti": "artifacts/test_intervals.json",
        },
        optional=frozenset({"unit_shift", "monitor_shift", "labs_absent", "ti"}),
    ),
    "genomic": Card(
        "models/genomic/MODEL_CARD.md", {"m": "metrics.json", "s": "../../bench/genomic_shift.json"}
    ),
    "notes": Card(
        "batch/notes/EVALUATION.md",
        {"m": "metrics.json", "h": "card_figures.json", "d": "deid_metrics.json"},
    ),
}


def _fmt(value: Any, spec: str) -> str:
    return format(value, spec)


def _delta(value: float, places: int = 2) -> str:
    """A signed difference: ``+0.16``, ``−0.63`` (minus sign), ``0.00`` when it rounds to zero."""
    text = format(abs(value), f".{places}f")
    if float(text) == 0:
        return text
    return ("+" if value > 0 else "\u2212") + text


def _ci(
    per_unit: Mapping[str, Any], units: Sequence[str], num: str, den: Sequence[str], key: str | None = None
) -> str:
    ci = pooled_ci_pct(per_unit, units, num, den, key)
    return "n/a" if ci is None else f"{ci[0]:.1f}\u2013{ci[1]:.1f}"


def _demote(text: str, level: int) -> str:
    lines = text.strip("\n").split("\n")
    if lines and lines[0].startswith("#"):
        lines = lines[1:]
        while lines and not lines[0].strip():
            lines = lines[1:]
    heads = [len(m.group(1)) for ln in lines if (m := re.match(r"(#+) ", ln))]
    shift = level - min(heads) if heads else 0
    out = [("#" * shift + ln) if re.match(r"#+ ", ln) else ln for ln in lines]
    return "\n".join(out) + "\n"


def card_render(
    card: Card, *, root: Path = ROOT, out: Path | None = None, data: Mapping[str, Any] | None = None
) -> str:
    """The card's text, rendered from its template.

    Parameters
    ----------
    card
        Which card.
    root
        Repository root holding the template (and, unless ``out`` is given, the sources).
    out
        Where the card is written, if not at ``root / card.path``: sources, ``file_bytes`` and
        ``text`` are then resolved relative to this file's folder.
    data
        Sources given directly (e.g. training results not yet written), by name.

    Examples
    --------
    >>> text = card_render(CARDS["genomic"])
    >>> text.startswith("# Model card: genomic ALL/AML classifier")
    True
    """
    template = root / (card.path + ".tmpl")
    base = (out or root / card.path).parent
    given = dict(data or {})
    ctx: dict[str, Any] = {}
    for name, rel in card.sources.items():
        if name in given:
            ctx[name] = given.pop(name)
            continue
        p = base / rel
        if not p.exists() and name in card.optional:
            ctx[name] = None
            continue
        ctx[name] = json.loads(p.read_text(encoding="utf-8"))
    if given:
        raise ValueError(
            f"unknown sources {sorted(given)} for {card.path}; expected some of {sorted(card.sources)}"
        )

    def text(name: str) -> str | None:
        p = base / name
        return p.read_text(encoding="utf-8") if p.exists() else None

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(template.parent),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters.update(fmt=_fmt, delta=_delta, demote=_demote)
    env.globals.update(
        file_bytes=lambda name: (base / name).stat().st_size, text=text, ci=_ci, ci_resamples=RESAMPLES
    )
    return env.get_template(template.name).render(ctx)


def card_write(
    card: Card, *, root: Path = ROOT, out: Path | None = None, data: Mapping[str, Any] | None = None
) -> Path:
    """Render ``card`` and write it (to ``out``, default the committed card); the path."""
    path = out or root / card.path
    path.write_text(card_render(card, root=root, out=out, data=data), encoding="utf-8")
    return path


def cards_stale(root: Path = ROOT, names: Sequence[str] | None = None) -> list[str]:
    """The cards whose committed text differs from their rendering."""
    return [
        n
        for n in names or CARDS
        if (root / CARDS[n].path).read_text(encoding="utf-8") != card_render(CARDS[n], root=root)
    ]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m models.cards", description=__doc__.split("\n")[0])
    ap.add_argument(
        "names", nargs="*", metavar="CARD", help=f"cards to render (default all: {', '.join(CARDS)})"
    )
    ap.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if a committed card differs from its rendering",
    )
    args = ap.parse_args(argv)
    names = args.names or list(CARDS)
    if unknown := [n for n in names if n not in CARDS]:
        ap.error(f"unknown card(s) {', '.join(unknown)}; choose from {', '.join(CARDS)}")
    if args.check:
        stale = cards_stale(ROOT, names)
        for n in stale:
            print(
                f"{CARDS[n].path} differs from its rendering: run python -m models.cards {n}", file=sys.stderr
            )
        return 1 if stale else 0
    for n in names:
        print(card_write(CARDS[n]).relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
