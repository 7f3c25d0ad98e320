"""The vault (Markdown + front matter, FTS5, decay), fact extraction, skills, tasks, registry."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from tool_helpers import run_tool

from vaos.tools import default_registry, front_matter
from vaos.tools.base import ToolError, clean_schema, model_schema
from vaos.tools.facts import extract_facts
from vaos.tools.registry import ToolRegistry
from vaos.tools.skills import SkillError, SkillLibrary
from vaos.tools.vault import Vault, fts_query


def test_vault_files_are_markdown_with_front_matter(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "vault")
    entry = vault.remember("We deploy with Docker Compose.", "decision", title="Deployment", session_id="s1")
    path = tmp_path / "vault" / "decisions" / "deployment.md"
    assert entry.path == "decisions/deployment.md" and path.exists()
    meta, body = front_matter.split(path.read_text())
    assert meta["category"] == "decision" and meta["session_id"] == "s1" and "alternatives" in meta
    assert body.startswith("# Deployment\n\nWe deploy with Docker Compose.")
    again = vault.remember("We deploy with Kubernetes now.", "decision", title="Deployment")
    assert again.created == entry.created and vault.count() == 1
    assert vault.get("decisions/deployment.md").content == "We deploy with Kubernetes now."  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="unknown category"):
        vault.remember("x", "gossip")
    vault.close()


def test_vault_search_ranks_relevance_with_decay(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "vault")
    vault.remember("The API listens on port 8089 behind nginx.", "fact", title="API port")
    vault.remember("The user prefers tabs over spaces in Python code.", "preference", title="Indentation")
    vault.remember("Commitment: ship the nginx config by Friday.", "commitment", title="nginx deadline")
    hits = vault.search("which port does the api use? nginx")
    assert hits[0].entry.title == "API port"
    assert vault.search('"); DROP TABLE entries; --') == []  # FTS syntax never reaches SQLite
    assert fts_query("a b") == "" and fts_query("Port? port!") == '"port"'
    now = time.time()
    fresh = vault.decay("commitment", now, now)
    old = vault.decay("commitment", now - 30 * 86400, now)
    ancient = vault.decay("commitment", now - 3650 * 86400, now)
    assert fresh == 1.0 and old == pytest.approx(0.5) and ancient == 0.1
    later = vault.search("nginx", now=now + 60 * 86400)  # the 30-day commitment has decayed
    assert later[0].entry.title == "API port"
    vault.close()


def test_the_index_follows_edits_and_deletions_made_by_people(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "vault")
    entry = vault.remember("Redis caches sessions.", "fact", title="Cache")
    (tmp_path / "vault" / entry.path).write_text(
        front_matter.render({"category": "fact", "title": "Cache"}, "# Cache\n\nMemcached caches sessions.")
    )
    (tmp_path / "vault" / "lessons").mkdir()
    (tmp_path / "vault" / "lessons" / "handwritten.md").write_text(
        "Always run the migrations before deploying.\n"
    )
    vault.close()
    reopened = Vault(tmp_path / "vault")
    assert reopened.search("memcached")[0].entry.title == "Cache"
    assert reopened.search("redis") == []
    assert reopened.search("migrations")[0].entry.category == "lesson"
    assert reopened.forget(entry.path) and reopened.search("memcached") == []
    reopened.close()


def test_facts_are_extracted_from_what_the_user_says() -> None:
    facts = extract_facts("We decided to use PostgreSQL for the event store. The API listens on port 8089.")
    by_category = {f.category: f.value for f in facts}
    assert by_category["decision"] == "use PostgreSQL for the event store"
    assert by_category["fact"] == "8089"
    assert extract_facts("hello there") == []


def test_skills_load_trigger_and_refuse_bad_names(tmp_path: Path) -> None:
    root = tmp_path / "skills"
    (root / "release").mkdir(parents=True)
    (root / "release" / "SKILL.md").write_text(
        "---\nname: release\ndescription: How to cut a release\ntriggers:\n  - release\n  - changelog\n---\n"
        "1. Update CHANGELOG.md\n2. Tag the version\n"
    )
    (root / "always-on").mkdir()
    (root / "always-on" / "SKILL.md").write_text("---\ntriggers: [always, '*']\n---\nDo everything.\n")
    library = SkillLibrary(root)
    assert {s.name for s in library.all()} == {"release", "always-on"}
    assert [s.name for s in library.triggered("Please prepare the release notes")] == ["release"]
    assert library.triggered("anything at all") == []  # wildcard triggers do not fire on every message
    block = library.context("write the changelog")
    assert "### Active skill: release" in block and "Tag the version" in block
    library.set_enabled("release", False)
    assert library.triggered("release") == [] and "release" not in library.context("x")
    for bad in ("../evil", "Evil", "a/b", ""):
        with pytest.raises(SkillError, match="invalid skill name"):
            library.create(bad, "d", "i")
    created = library.create("deploy", "Deploy the app", "Run the deploy script.", triggers=["deploy"])
    assert (root / "deploy" / "SKILL.md").exists() and created.triggers == ("deploy",)
    library.delete("deploy")
    assert library.get("deploy") is None


async def test_memory_task_and_skill_tools(registry: ToolRegistry) -> None:
    saved = await run_tool(registry, "memory_save", content="The staging server is called kestrel.")
    assert saved.startswith("Saved to long-term memory under [fact]")
    assert "kestrel" in await run_tool(registry, "memory_recall", query="staging server name")
    assert "No relevant memories" in await run_tool(registry, "memory_recall", query="volcano")
    await run_tool(
        registry, "vault_remember", content="Prefer small PRs.", category="preference", title="PR size"
    )
    assert "PR size" in await run_tool(registry, "vault_context")
    out = await run_tool(registry, "task_write", action="add_multiple", titles=["write tests", "ship"])
    assert "Tasks (0/2 completed)" in out
    await run_tool(registry, "task_write", action="complete", task_id="1")
    assert "✔ 1: write tests" in await run_tool(registry, "task_write", action="list")
    other_session = await run_tool(registry, "task_write", session_id="s2", action="list")
    assert other_session == "No tasks."
    with pytest.raises(ToolError, match="unknown task id"):
        await run_tool(registry, "task_write", action="start", task_id="9")
    await run_tool(
        registry, "create_skill", name="triage", description="Triage bug reports", instructions="Ask."
    )
    assert "Triage bug reports" in await run_tool(registry, "skill_manager", action="list")
    assert "# Skill: triage" in await run_tool(registry, "use_skill", skill_name="triage", task="bug 12")
    with pytest.raises(ToolError, match="no enabled skill"):
        await run_tool(registry, "use_skill", skill_name="nope")


def test_schemas_come_from_the_pydantic_models(registry: ToolRegistry) -> None:
    document = registry.to_json()
    names = [t["name"] for t in document["tools"]]
    assert {"file_read", "shell_execute", "git", "memory_save", "web_fetch", "task_write"} <= set(names)
    edit = next(t for t in document["tools"] if t["name"] == "multi_file_edit")
    text = json.dumps(edit["parameters"])
    assert "$ref" not in text and "$defs" not in text and '"title"' not in text
    assert edit["parameters"]["properties"]["edits"]["items"]["required"] == [
        "path",
        "old_string",
        "new_string",
    ]
    assert edit["parameters"]["properties"]["edits"]["maxItems"] == 20
    spec = next(s for s in registry.specs() if s.name == "multi_file_edit")
    assert "maxItems" not in json.dumps(spec.parameters)  # grammar-friendly for the embedded model
    read = next(s for s in registry.specs() if s.name == "file_read").parameters
    assert read["properties"]["offset"] == {"type": "integer", "description": "First line to show (1-based)."}
    assert "additionalProperties" not in read and read["required"] == ["path"]
    grep = model_schema(
        clean_schema({"type": "object", "properties": {"pattern": {"type": "string", "maxLength": 3}}})
    )
    assert grep == {"type": "object", "properties": {"pattern": {"type": "string"}}}
    for tool in document["tools"]:
        assert tool["parameters"]["type"] == "object" and tool["safety"] in ("read_only", "write", "execute")


def test_disabled_tools_are_listed_but_not_offered(vaos_home: Path, workspace: Path) -> None:
    from tool_helpers import make_services

    registry = default_registry(make_services(vaos_home, workspace, disabled="shell_execute,git"))
    offered = {s.name for s in registry.specs()}
    assert "shell_execute" not in offered and "git" not in offered and "file_read" in offered
    listed = {t["name"]: t for t in registry.to_json()["tools"]}
    assert listed["git"]["available"] is False and "DISABLED" in listed["git"]["unavailable_reason"]
