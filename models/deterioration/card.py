"""Write ``models/deterioration/MODEL_CARD.md`` from the training results (``metrics.json``).

The text is the template ``MODEL_CARD.md.tmpl`` rendered by :mod:`models.cards`, the renderer of
every model card; the shift checks' results (``artifacts/unit_shift.json``,
``artifacts/monitor_shift.json``, next to the card) fill their sections when present.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from models.cards import CARDS, card_write

CARD_PATH = Path(__file__).parent / "MODEL_CARD.md"


def write_card(res: dict[str, Any], path: Path = CARD_PATH) -> Path:
    """Render the model card (numbers from ``res`` and the shift files, the rest fixed text)."""
    return card_write(CARDS["deterioration"], out=path, data={"res": res})


if __name__ == "__main__":  # re-render from a metrics.json
    write_card(json.loads((CARD_PATH.parent / "artifacts" / "metrics.json").read_text()))
