"""The HAPI launcher's errors, without starting HAPI: a missing jar says how to build it; the CLI offers the engine."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from smart_app.cli import main
from smart_app.sandbox import hapi_server
from smart_app.sandbox.fhir_server import FhirServerError


def test_a_missing_jar_says_how_to_build_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(hapi_server, "HAPI_JAR", tmp_path / "missing.jar")
    with pytest.raises(FhirServerError, match="make hapi-jar"):
        hapi_server.start_hapi_server(log_path=tmp_path / "hapi.log")


def test_the_sandbox_command_offers_both_engines() -> None:
    help_text = CliRunner().invoke(main, ["sandbox", "--help"]).output
    assert "--engine [node|hapi]" in help_text and "--hapi-igs" in help_text


def test_rss_is_read_for_a_live_process_and_none_for_a_gone_one() -> None:
    import os

    own = hapi_server.rss_megabytes(os.getpid())
    assert own is not None and own > 1
    assert hapi_server.rss_megabytes(2**22 + 12345) is None
