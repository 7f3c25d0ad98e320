"""Per-session task lists (the ``task_write`` tool), kept in ``$VAOS_HOME/tasks/<session>.json``
so a resumed session still has them. Keyed by the real session id (the original filed every
task under ``"default"``).
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

TaskStatus = Literal["pending", "in_progress", "completed", "failed"]
ICONS: dict[str, str] = {"pending": "◻", "in_progress": "◼", "completed": "✔", "failed": "✘"}
MAX_TASKS = 200
_SAFE = re.compile(r"[^A-Za-z0-9_.:-]")


class TaskError(ValueError):
    pass


@dataclass
class Task:
    id: str
    title: str
    status: TaskStatus = "pending"
    reason: str | None = None
    blocked_by: list[str] = field(default_factory=list)

    def line(self) -> str:
        extra = ""
        if self.blocked_by:
            extra += f"  [blocked by: {', '.join(self.blocked_by)}]"
        if self.status == "failed" and self.reason:
            extra += f"  [failed: {self.reason}]"
        return f"{ICONS[self.status]} {self.id}: {self.title}{extra}"


class TaskStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()

    def _file(self, session_id: str) -> Path:
        return self.root / f"{_SAFE.sub('_', session_id)[:64] or 'default'}.json"

    def load(self, session_id: str) -> list[Task]:
        try:
            rows = json.loads(self._file(session_id).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        tasks: list[Task] = []
        for row in rows if isinstance(rows, list) else []:
            try:
                tasks.append(Task(**row))
            except TypeError:
                continue
        return tasks

    def save(self, session_id: str, tasks: list[Task]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        path = self._file(session_id)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps([asdict(t) for t in tasks], ensure_ascii=False), encoding="utf-8")
        tmp.replace(path)

    def apply(self, session_id: str, action: str, **kw: Any) -> str:
        """Run one ``task_write`` action and return the list (or what changed) as text."""
        with self._lock:
            tasks = self.load(session_id)
            message = self._apply(tasks, action, **kw)
            self.save(session_id, tasks)
        return message

    def _apply(self, tasks: list[Task], action: str, **kw: Any) -> str:
        by_id = {t.id: t for t in tasks}

        def find() -> Task:
            task_id = kw.get("task_id")
            if not task_id or task_id not in by_id:
                raise TaskError(f"unknown task id {task_id!r}; ids: {', '.join(by_id) or '(none)'}")
            return by_id[task_id]

        def next_id() -> str:
            n = 1 + max((int(t.id) for t in tasks if t.id.isdigit()), default=0)
            return str(n)

        if action in ("add", "add_multiple"):
            titles = [kw["title"]] if action == "add" and kw.get("title") else list(kw.get("titles") or [])
            titles = [t.strip() for t in titles if t and t.strip()]
            if not titles:
                raise TaskError("give a title (add) or titles (add_multiple)")
            if len(tasks) + len(titles) > MAX_TASKS:
                raise TaskError(f"at most {MAX_TASKS} tasks per session")
            added = []
            for title in titles:
                task = Task(next_id(), title[:300], blocked_by=list(kw.get("blocked_by") or []))
                tasks.append(task)
                added.append(task.id)
            return f"Added {', '.join(added)}.\n" + self.render(tasks)
        if action == "start":
            find().status = "in_progress"
        elif action == "complete":
            done = find()
            done.status = "completed"
            for task in tasks:
                if done.id in task.blocked_by:
                    task.blocked_by.remove(done.id)
        elif action == "fail":
            task = find()
            task.status, task.reason = "failed", kw.get("reason")
        elif action == "update":
            task = find()
            if kw.get("title"):
                task.title = str(kw["title"])[:300]
        elif action == "clear":
            tasks.clear()
            return "Task list cleared."
        elif action == "next":
            for task in tasks:
                if task.status == "pending" and not task.blocked_by:
                    return f"Next: {task.line()}"
            return "No pending task is ready."
        elif action != "list":
            raise TaskError(f"unknown action {action!r}")
        return self.render(tasks)

    @staticmethod
    def render(tasks: list[Task]) -> str:
        if not tasks:
            return "No tasks."
        done = sum(1 for t in tasks if t.status == "completed")
        return f"Tasks ({done}/{len(tasks)} completed):\n" + "\n".join(f"  {t.line()}" for t in tasks)

    def context(self, session_id: str | None) -> str:
        if not session_id:
            return ""
        tasks = self.load(session_id)
        if not tasks or all(t.status == "completed" for t in tasks):
            return ""
        return "## Active tasks\n" + self.render(tasks) + "\nKeep them up to date with task_write."
