"""What a tool is: a name, a description, pydantic arguments (the JSON schema comes from
them), a safety class, and ``run``.

A tool returns text for the model or raises ``ToolError`` with a message the model can act
on. It never sees governance, hooks or timeouts: the agent's executor applies those around
every call, whoever the caller is (the loop, ``vaos mcp serve``).
"""

from __future__ import annotations

import copy
import json
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

if TYPE_CHECKING:
    from vaos.config import Settings
    from vaos.routing.budget import BudgetTracker
    from vaos.store.database import Database
    from vaos.tools.skills import SkillLibrary
    from vaos.tools.tasks import TaskStore
    from vaos.tools.vault import Vault
    from vaos.tools.workspace import Workspace

Safety = Literal["read_only", "write", "execute"]
"""``read_only``: looks, changes nothing; ``write``: changes files or memory; ``execute``: runs
programs or acts on other systems (the shell, git, MCP servers that do not say otherwise)."""

AskUser = Callable[[str, list[str], str | None], Awaitable[str]]
"""``ask_user(question, options, session_id)`` -> the user's answer (front ends supply it)."""


class ToolError(Exception):
    """A failure the model is told about (``Error: <message>``)."""


class ToolArgs(BaseModel):
    """Base of every tool's arguments: unknown keys are refused, so typos are seen."""

    model_config = ConfigDict(extra="forbid")


class NoArgs(ToolArgs):
    pass


ArgsT = TypeVar("ArgsT", bound=BaseModel)


@dataclass
class ToolServices:
    """What tools may use, shared by every call of one runtime."""

    settings: Settings
    workspace: Workspace
    vault: Vault | None = None
    skills: SkillLibrary | None = None
    tasks: TaskStore | None = None
    db: Database | None = None
    budget: BudgetTracker | None = None
    ask_user: AskUser | None = None
    files_read: dict[str, set[str]] = field(default_factory=dict)
    """Per session, the resolved paths read (or written) in it: the read-before-write hook."""


@dataclass
class ToolContext:
    """One call: who asks, in which session, and the shared services."""

    services: ToolServices
    session_id: str | None = None
    agent_id: str = "vaos"
    call_id: str = ""

    @property
    def workspace(self) -> Workspace:
        return self.services.workspace

    @property
    def settings(self) -> Settings:
        return self.services.settings


class Tool(ABC, Generic[ArgsT]):
    """Subclasses set ``name``, ``description``, ``args_model`` and implement ``run``."""

    name: str
    description: str
    args_model: type[ArgsT]
    safety: Safety = "read_only"
    timeout: float | None = None
    """Seconds; None = the agent's ``tool_timeout``."""
    source: str = "builtin"
    network: bool = False

    _schema_cache: dict[str, Any] | None = None

    def parameters(self) -> dict[str, Any]:
        """The JSON schema of the arguments (an object schema, no ``$ref``)."""
        if self._schema_cache is None:
            self._schema_cache = clean_schema(self.args_model.model_json_schema())
        return copy.deepcopy(self._schema_cache)

    def validate(self, arguments: Mapping[str, Any]) -> ArgsT:
        """The arguments as the model gave them, checked; ``ToolError`` listing every problem."""
        try:
            return self.args_model.model_validate(dict(arguments))
        except ValidationError as exc:
            raise ToolError(describe_validation(self.name, exc)) from None

    def unavailable(self, services: ToolServices) -> str | None:
        """Why the tool cannot be offered right now (None: it can)."""
        return None

    def resources(self, args: ArgsT, services: ToolServices) -> frozenset[str] | None:
        """What the call touches, for running independent calls in parallel.

        ``frozenset()`` means nothing shared; None means it may touch anything (such calls
        run alone, after the calls before them).
        """
        return frozenset() if self.safety == "read_only" else None

    @abstractmethod
    async def run(self, args: ArgsT, ctx: ToolContext) -> str:
        """The result text; raise ``ToolError`` for a failure the model should see."""


# What the model is sent is the portable core of the schema: types, descriptions, enums,
# required keys, items. The constraints below are checked by the tool when it validates;
# they are dropped because grammar-constrained decoders (the embedded model) expand them into
# huge grammars and some providers' schema dialects refuse them. Optional fields lose their
# ``null`` branch (they are simply not required) and defaults move into the description.
MODEL_SCHEMA_DROP = frozenset(
    {
        "maxLength",
        "minLength",
        "pattern",
        "maxItems",
        "minItems",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "format",
        "additionalProperties",
        "default",
    }
)


def model_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """``schema`` as sent to a model (see ``MODEL_SCHEMA_DROP``); the tool still checks all."""

    def walk(node: Any, in_properties: bool = False) -> Any:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        if in_properties:
            return {key: walk(value) for key, value in node.items()}
        node = _without_null_branch(node)
        out = {
            key: walk(value, key == "properties")
            for key, value in node.items()
            if key not in MODEL_SCHEMA_DROP
        }
        default = node.get("default")
        if default is not None and default != [] and default != {}:
            note = f"(default: {json.dumps(default)})"
            out["description"] = f"{out['description']} {note}" if out.get("description") else note
        return out

    out = walk(dict(schema))
    assert isinstance(out, dict)
    return out


def _without_null_branch(node: dict[str, Any]) -> dict[str, Any]:
    branches = node.get("anyOf")
    if not isinstance(branches, list) or len(branches) != 2:
        return node
    rest = [b for b in branches if not (isinstance(b, dict) and b.get("type") == "null")]
    if len(rest) != 1 or not isinstance(rest[0], dict):
        return node
    merged = {k: v for k, v in node.items() if k != "anyOf"}
    return {**rest[0], **merged}


def describe_validation(tool: str, exc: ValidationError) -> str:
    lines = [f"invalid arguments for {tool}:"]
    for err in exc.errors(include_url=False):
        where = ".".join(str(part) for part in err.get("loc", ())) or "(arguments)"
        lines.append(f"  - {where}: {err.get('msg', 'invalid')}")
    return "\n".join(lines)


def clean_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A pydantic schema made portable: ``$ref`` inlined, ``title`` keys dropped."""
    defs = dict(schema.get("$defs", {}))

    def walk(node: Any, depth: int = 0) -> Any:
        if depth > 32:
            return {}
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                target = defs.get(ref.removeprefix("#/$defs/"), {})
                merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
                return walk(merged, depth + 1)
            return {
                key: walk(value, depth + 1)
                for key, value in node.items()
                if key not in ("$defs", "title") or (key == "title" and not isinstance(value, str))
            }
        if isinstance(node, list):
            return [walk(item, depth + 1) for item in node]
        return node

    out = walk(dict(schema))
    assert isinstance(out, dict)
    out.setdefault("type", "object")
    out.setdefault("properties", {})
    return out
