"""The committed JSON under smart_app/sandbox/seed is exactly what the builders produce."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smart_app.sandbox.seed import generate


def test_committed_bundles_and_cases_are_up_to_date() -> None:
    stale = generate.stale_files(generate.expected_files())
    assert not stale, f"run `python -m smart_app.sandbox.seed.generate`; out of date: {stale}"


def test_committed_files_are_the_documented_set() -> None:
    names = sorted(path.name for path in generate.BUNDLE_DIR.glob("*.json"))
    assert names[0] == "cervical-mbb-left-two-level-ready.bundle.json"
    assert "sandbox-user.bundle.json" in names
    assert len(names) == len(json.loads(generate.CASES_FILE.read_text("utf-8"))) + 1


def test_generate_writes_then_check_detects_a_hand_edit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(generate, "BUNDLE_DIR", tmp_path / "bundles")
    monkeypatch.setattr(generate, "CASES_FILE", tmp_path / "cases.json")
    assert generate.main([]) == 0
    assert generate.main(["--check"]) == 0
    edited = tmp_path / "bundles" / "sandbox-user.bundle.json"
    edited.write_text(edited.read_text("utf-8").replace("Sandoval", "Sandavol"), "utf-8")
    leftover = tmp_path / "bundles" / "old.bundle.json"
    leftover.write_text("{}", "utf-8")
    assert set(generate.stale_files(generate.expected_files())) == {edited, leftover}
    assert generate.main(["--check"]) == 1
    assert generate.main([]) == 0
    assert not leftover.exists()
    assert generate.main(["--check"]) == 0
