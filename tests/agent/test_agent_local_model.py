"""One run with the real embedded model (SmolLM2-135M through llama.cpp): the shape only."""

from __future__ import annotations

from pathlib import Path

import pytest
from agent_helpers import make_settings

from vaos.agent.runtime import open_runtime
from vaos.providers.registry import ProviderRegistry


@pytest.mark.slow
async def test_one_run_with_the_embedded_model(vaos_home: Path, workspace: Path) -> None:
    settings = make_settings(vaos_home, workspace, max_iterations=2, tool_schema_share=0.03)
    if not ProviderRegistry(settings).status("local").configured:
        pytest.skip("the embedded model is not installed (scripts/install)")
    async with open_runtime(settings, governance=False, mcp=False) as runtime:
        result = await runtime.agent().run("Please list the files in the workspace directory", tier="utility")
    assert (result.provider, result.model, result.cost_usd) == ("local", "smollm2-135m-instruct", 0.0)
    assert isinstance(result.output, str) and result.output.strip()
    assert 1 <= result.iterations <= 2 and result.stop_reason in ("answer", "max_iterations", "doom_loop")
    assert result.usage["prompt_tokens"] > 0 and result.usage["completion_tokens"] > 0
    for record in result.tool_calls:
        assert set(record) == {"id", "name", "arguments", "status", "result", "duration_ms"}
        assert record["status"] in ("ok", "error", "invalid", "blocked", "refused", "timeout")
