"""The memory vault: facts as Markdown files with front matter, searchable with SQLite FTS5.

``$VAOS_HOME/vault/<category dir>/<slug>.md`` — the files are the truth, readable and
editable by people; ``vault/.index.sqlite3`` is an FTS5 index rebuilt from them when they
change (by modification time), so an edited or deleted file is seen at the next open or
``sync()``. Search ranks by BM25 relevance times a decay: a fact's weight halves every
``half_life_days`` of its category since it was last updated (floor 0.1), times its
confidence and the category's importance. Writing a fact with the title of an existing one
in the same category updates it (the creation time is kept).
"""

from __future__ import annotations

import math
import re
import sqlite3
import threading
import time
import tomllib
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from vaos.tools import front_matter

INDEX_FILE = ".index.sqlite3"
MAX_CONTENT_CHARS = 20_000
DECAY_FLOOR = 0.1
_WORD = re.compile(r"\w+", re.UNICODE)
_SCHEMA = """
CREATE VIRTUAL TABLE IF NOT EXISTS entries USING fts5(
    path UNINDEXED, category UNINDEXED, title, content, tokenize = 'porter unicode61'
);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, mtime_ns INTEGER NOT NULL, size INTEGER NOT NULL,
    category TEXT NOT NULL, title TEXT NOT NULL, updated REAL NOT NULL,
    confidence REAL NOT NULL, superseded INTEGER NOT NULL DEFAULT 0
);
"""


@dataclass(frozen=True, slots=True)
class Category:
    name: str
    dir: str
    keys: tuple[str, ...]
    half_life_days: float
    importance: float


@dataclass(frozen=True, slots=True)
class VaultEntry:
    """One fact as stored."""

    path: str
    category: str
    title: str
    content: str
    created: str
    updated: str
    confidence: float = 1.0
    source: str | None = None
    session_id: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "category": self.category,
            "title": self.title,
            "content": self.content,
            "created": self.created,
            "updated": self.updated,
            "confidence": self.confidence,
            "source": self.source,
            "session_id": self.session_id,
        }


@dataclass(frozen=True, slots=True)
class VaultHit:
    entry: VaultEntry
    score: float
    relevance: float
    decay: float

    def to_dict(self) -> dict[str, Any]:
        return {**self.entry.to_dict(), "score": round(self.score, 4), "decay": round(self.decay, 4)}


def load_categories() -> dict[str, Category]:
    data = tomllib.loads(resources.files("vaos.data").joinpath("vault.toml").read_text(encoding="utf-8"))
    return {
        name: Category(
            name,
            str(row["dir"]),
            tuple(row.get("keys", ())),
            float(row.get("half_life_days", 180)),
            float(row.get("importance", 0.5)),
        )
        for name, row in data["categories"].items()
    }


def slugify(text: str, limit: int = 80) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"[^\w\s-]", "", text)
    text = re.sub(r"[\s_]+", "-", text)
    text = re.sub(r"-{2,}", "-", text).strip("-")
    return text[:limit].strip("-") or "untitled"


def fts_query(text: str) -> str:
    """Words of ``text`` as an FTS5 OR query (each quoted, so no syntax reaches FTS5)."""
    words = [w for w in _WORD.findall(text.lower()) if len(w) >= 2]
    unique = list(dict.fromkeys(words))[:32]
    return " OR ".join(f'"{w}"' for w in unique)


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _parse_time(value: Any, fallback: float) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return fallback
    return fallback


class VaultError(ValueError):
    pass


class Vault:
    def __init__(self, root: Path, *, clock: Any = time.time) -> None:
        self.root = Path(root)
        self.categories = load_categories()
        self._clock = clock
        self._lock = threading.Lock()
        self.root.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.root / INDEX_FILE, check_same_thread=False, isolation_level=None)
        try:
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError:  # a damaged index is only a cache: start it again
            self._db.close()
            (self.root / INDEX_FILE).unlink(missing_ok=True)
            self._db = sqlite3.connect(self.root / INDEX_FILE, check_same_thread=False, isolation_level=None)
            self._db.executescript(_SCHEMA)
        self.sync()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- files ---------------------------------------------------------------------------

    def category(self, name: str) -> Category:
        try:
            return self.categories[name]
        except KeyError:
            raise VaultError(f"unknown category {name!r}; categories: {', '.join(self.categories)}") from None

    def remember(
        self,
        content: str,
        category: str = "fact",
        *,
        title: str | None = None,
        confidence: float = 1.0,
        source: str | None = None,
        session_id: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> VaultEntry:
        """Write (or update) one fact; returns it as stored."""
        cat = self.category(category)
        content = content.strip()
        if not content:
            raise VaultError("nothing to remember: the content is empty")
        if len(content) > MAX_CONTENT_CHARS:
            raise VaultError(
                f"the content is too long ({len(content)} characters, at most {MAX_CONTENT_CHARS})"
            )
        title = (title or content.splitlines()[0]).strip()[:120] or "untitled"
        rel = f"{cat.dir}/{slugify(title)}.md"
        path = self.root / rel
        now = _now_iso()
        created = now
        if path.exists():
            old_meta, _ = front_matter.split(path.read_text(encoding="utf-8"))
            created = str(old_meta.get("created") or now)
        meta: dict[str, Any] = {
            "category": cat.name,
            "title": title,
            "created": created,
            "updated": now,
            "confidence": round(max(0.0, min(1.0, confidence)), 3),
            "source": source,
            "session_id": session_id,
        }
        for key in cat.keys:
            meta.setdefault(key, "")
        meta.update({k: v for k, v in (extra or {}).items() if k not in ("category", "created", "updated")})
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".md.tmp")
        tmp.write_text(front_matter.render(meta, f"# {title}\n\n{content}"), encoding="utf-8")
        tmp.replace(path)
        entry = self._index_file(path)
        assert entry is not None
        return entry

    def forget(self, path: str) -> bool:
        """Delete one fact by its vault-relative path."""
        target = self._inside(path)
        existed = target.exists()
        target.unlink(missing_ok=True)
        with self._lock:
            self._db.execute("DELETE FROM entries WHERE path = ?", (path,))
            self._db.execute("DELETE FROM files WHERE path = ?", (path,))
        return existed

    def get(self, path: str) -> VaultEntry | None:
        target = self._inside(path)
        return self._read(target) if target.is_file() else None

    def _inside(self, path: str) -> Path:
        target = (self.root / path).resolve()
        if not target.is_relative_to(self.root.resolve()) or target.suffix != ".md":
            raise VaultError(f"{path!r} is not a vault file")
        return target

    def _read(self, path: Path) -> VaultEntry | None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        meta, body = front_matter.split(text)
        rel = path.relative_to(self.root).as_posix()
        category = str(meta.get("category") or self._category_of(rel))
        title = str(meta.get("title") or path.stem.replace("-", " "))
        lines = body.strip().splitlines()
        if lines and lines[0].startswith("# "):
            lines = lines[1:]
        content = "\n".join(lines).strip()
        try:
            confidence = float(meta.get("confidence", 1.0) or 1.0)
        except (TypeError, ValueError):
            confidence = 1.0
        mtime = path.stat().st_mtime
        created = str(meta.get("created") or "")
        updated = str(meta.get("updated") or created or datetime.fromtimestamp(mtime, UTC).isoformat())
        known = {"category", "title", "created", "updated", "confidence", "source", "session_id"}
        return VaultEntry(
            path=rel,
            category=category,
            title=title,
            content=content,
            created=created,
            updated=updated,
            confidence=confidence,
            source=str(meta["source"]) if meta.get("source") else None,
            session_id=str(meta["session_id"]) if meta.get("session_id") else None,
            meta={k: v for k, v in meta.items() if k not in known},
        )

    def _category_of(self, rel: str) -> str:
        top = rel.split("/", 1)[0]
        for cat in self.categories.values():
            if cat.dir == top:
                return cat.name
        return "fact"

    # -- index ---------------------------------------------------------------------------

    def _files(self) -> Iterable[Path]:
        for cat in self.categories.values():
            folder = self.root / cat.dir
            if folder.is_dir():
                yield from (p for p in folder.glob("*.md") if p.is_file())

    def sync(self) -> int:
        """Bring the index up to date with the files; returns how many files changed."""
        seen: set[str] = set()
        changed = 0
        with self._lock:
            known = {
                row[0]: (row[1], row[2]) for row in self._db.execute("SELECT path, mtime_ns, size FROM files")
            }
        for path in self._files():
            rel = path.relative_to(self.root).as_posix()
            seen.add(rel)
            st = path.stat()
            if known.get(rel) == (st.st_mtime_ns, st.st_size):
                continue
            self._index_file(path)
            changed += 1
        gone = set(known) - seen
        if gone:
            with self._lock:
                for rel in gone:
                    self._db.execute("DELETE FROM entries WHERE path = ?", (rel,))
                    self._db.execute("DELETE FROM files WHERE path = ?", (rel,))
            changed += len(gone)
        return changed

    def _index_file(self, path: Path) -> VaultEntry | None:
        entry = self._read(path)
        rel = path.relative_to(self.root).as_posix()
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.execute("DELETE FROM entries WHERE path = ?", (rel,))
                self._db.execute("DELETE FROM files WHERE path = ?", (rel,))
                if entry is not None:
                    st = path.stat()
                    updated = _parse_time(entry.updated, st.st_mtime)
                    superseded = 1 if entry.meta.get("superseded_by") else 0
                    self._db.execute(
                        "INSERT INTO entries (path, category, title, content) VALUES (?, ?, ?, ?)",
                        (rel, entry.category, entry.title, entry.content),
                    )
                    self._db.execute(
                        "INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            rel,
                            st.st_mtime_ns,
                            st.st_size,
                            entry.category,
                            entry.title,
                            updated,
                            entry.confidence,
                            superseded,
                        ),
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return entry

    # -- search --------------------------------------------------------------------------

    def decay(self, category: str, updated: float, now: float | None = None) -> float:
        cat = self.categories.get(category)
        half_life = cat.half_life_days if cat else 180.0
        age_days = max(0.0, ((now if now is not None else self._clock()) - updated) / 86400.0)
        return max(DECAY_FLOOR, math.exp(-math.log(2) * age_days / half_life))

    def search(
        self,
        query: str,
        *,
        categories: Sequence[str] | None = None,
        limit: int = 10,
        now: float | None = None,
    ) -> list[VaultHit]:
        """Facts matching ``query``, best first (relevance x decay x confidence x importance)."""
        match = fts_query(query)
        if not match:
            return []
        sql = (
            "SELECT e.path, bm25(entries, 0.0, 0.0, 2.0, 1.0), f.updated, f.confidence, f.category "
            "FROM entries e JOIN files f ON f.path = e.path "
            "WHERE entries MATCH ? AND f.superseded = 0"
        )
        params: list[Any] = [match]
        if categories:
            for name in categories:
                self.category(name)
            sql += f" AND f.category IN ({', '.join('?' for _ in categories)})"
            params.extend(categories)
        sql += " ORDER BY rank LIMIT 200"
        with self._lock:
            try:
                rows = self._db.execute(sql, params).fetchall()
            except sqlite3.OperationalError:
                return []
        scored: list[tuple[float, float, float, str]] = []
        for path, bm25, updated, confidence, category in rows:
            relevance = -float(bm25)
            decay = self.decay(category, float(updated), now)
            importance = self.categories[category].importance if category in self.categories else 0.5
            scored.append((relevance * decay * float(confidence) * importance, relevance, decay, path))
        scored.sort(key=lambda item: item[0], reverse=True)
        hits: list[VaultHit] = []
        for score, relevance, decay, path in scored[: max(1, limit)]:
            entry = self._read(self.root / path)
            if entry is not None:
                hits.append(VaultHit(entry, score, relevance, decay))
        return hits

    def recent(self, limit: int = 10, *, categories: Sequence[str] | None = None) -> list[VaultEntry]:
        sql = "SELECT path FROM files WHERE superseded = 0"
        params: list[Any] = []
        if categories:
            sql += f" AND category IN ({', '.join('?' for _ in categories)})"
            params.extend(categories)
        sql += " ORDER BY updated DESC LIMIT ?"
        params.append(max(1, limit))
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        out = [self._read(self.root / row[0]) for row in rows]
        return [e for e in out if e is not None]

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM files").fetchone()[0])

    def context(self, query: str, max_chars: int = 3000, limit: int = 8) -> str:
        """Relevant facts as a Markdown block for the system prompt ("" when none)."""
        if max_chars <= 0:
            return ""
        hits = self.search(query, limit=limit)
        if not hits:
            return ""
        lines = ["## Memory (from the vault; may be out of date)"]
        used = len(lines[0])
        for hit in hits:
            text = " ".join(hit.entry.content.split())
            line = (
                f"- [{hit.entry.category}] {hit.entry.title}: {text}"
                if text != hit.entry.title
                else (f"- [{hit.entry.category}] {text}")
            )
            if len(line) > 400:
                line = line[:397] + "..."
            if used + len(line) + 1 > max_chars:
                continue  # a shorter one further down may still fit
            lines.append(line)
            used += len(line) + 1
        return "\n".join(lines) if len(lines) > 1 else ""
