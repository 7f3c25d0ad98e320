from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tool_helpers import make_services

from vaos.tools import default_registry
from vaos.tools.registry import ToolRegistry


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "README.md").write_text("# Demo\nhello world\nsecond line\n")
    (root / "src").mkdir()
    (root / "src" / "app.py").write_text(
        "class Greeter:\n    def hello(self):\n        return 'hi'\n\n\n"
        "def main():\n    pass\n\n\ndef _private():\n    pass\n"
    )
    return root


@pytest.fixture
def registry(vaos_home: Path, workspace: Path) -> Iterator[ToolRegistry]:
    services = make_services(vaos_home, workspace)
    registry = default_registry(services)
    yield registry
    assert services.vault is not None
    services.vault.close()
