from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from agent_helpers import make_settings

from vaos.agent.runtime import AgentRuntime, open_runtime
from vaos.config import Settings


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "README.md").write_text("# Demo project\nIt greets people.\n")
    return root


@pytest.fixture
def settings(vaos_home: Path, workspace: Path) -> Settings:
    return make_settings(vaos_home, workspace)


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[AgentRuntime]:
    async with open_runtime(settings, governance=False, mcp=False) as rt:
        yield rt
