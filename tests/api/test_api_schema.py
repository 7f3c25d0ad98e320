"""Schemathesis against ``/openapi.json`` of a running server: no server errors, and the
answers match the document (status codes, media types, schemas), bad input is refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from api_fakes import Api

ST = str(Path(sys.executable).with_name("schemathesis"))
CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
    )
)


@pytest.mark.slow
def test_schemathesis_finds_no_server_error_and_no_mismatch(api: Api, tmp_path: Path) -> None:
    # Left out: the session stream never ends by design (tests/api/test_api_sse.py covers it).
    result = subprocess.run(
        [
            ST,
            "run",
            api.url + "/openapi.json",
            "--checks",
            CHECKS,
            "--phases",
            "fuzzing,stateful",
            "--max-examples",
            "15",
            "--seed",
            "8",
            "--workers",
            "1",  # Hypothesis's lambda-source cache is not thread-safe: several workers flake
            "--no-shrink",
            "--request-timeout",
            "10",
            "--exclude-path-regex",
            "^/api/v1/stream/",
            "--report",
            "junit",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "passed" in result.stdout
