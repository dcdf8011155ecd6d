"""docs/config.md is generated from the model and must match it."""

from __future__ import annotations

from pathlib import Path

from evpn_boot.config.model import Config
from evpn_boot.config.reference import render_reference

DOC = Path(__file__).resolve().parents[2] / "docs" / "config.md"


def test_reference_is_in_sync() -> None:
    assert DOC.read_text() == render_reference(), (
        "docs/config.md is stale: python -m evpn_boot.config.reference > docs/config.md")


def test_reference_mentions_every_key() -> None:
    text = DOC.read_text()
    for name, field in Config.model_fields.items():
        assert f"[{name}]" in text or f"[[{name}]]" in text, name
        assert field is not None
    for key in ("index_from_interface", "vtep_cidr", "password_file", "gateway_ips", "timeout_s"):
        assert f"`{key}`" in text
