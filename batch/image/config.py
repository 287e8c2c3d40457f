"""Settings of the image worker (``WARDWATCH_IMAGE_*`` environment variables)."""

from __future__ import annotations

import logging
import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger("wardwatch.batch.image")


class ImageSettings(BaseSettings):
    """Image worker configuration.

    Attributes
    ----------
    weights : Path, optional
        DenseNet121 weights file provided by the operator (``WARDWATCH_IMAGE_WEIGHTS``); the
        model is never downloaded. Without it the model is untrained and results say so.
    labels : Path, optional
        JSON list of class names for the weights' top layer (default: 1000 ImageNet indices).
    deid_key, deid_key_file : secret, optional
        Key of the de-identification UID mapping (``WARDWATCH_IMAGE_DEID_KEY[_FILE]``). Every
        worker must share it for replaced UIDs to stay consistent across jobs and restarts.
    """

    model_config = SettingsConfigDict(env_prefix="WARDWATCH_IMAGE_", extra="ignore")

    weights: Path | None = None
    labels: Path | None = None
    top_k: int = 5
    deid_key: SecretStr = SecretStr("")
    deid_key_file: Path | None = None
    thumbnail_px: int = 256


@lru_cache(maxsize=1)
def deid_key() -> tuple[bytes, bool]:
    """``(key, configured)``: the configured UID-mapping key, or a per-process random one."""
    s = ImageSettings()
    if s.deid_key_file is not None:
        return s.deid_key_file.read_bytes().strip(), True
    if s.deid_key.get_secret_value():
        return s.deid_key.get_secret_value().encode(), True
    log.warning("WARDWATCH_IMAGE_DEID_KEY unset: UID replacement consistent within this process only")
    return secrets.token_bytes(32), False
