"""Sessions, messages and feedback in SQLite under the data dir. They survive a restart and expire
after a TTL. Everything a user typed is redacted before it is written.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from assistant.redact import redact

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions(id TEXT PRIMARY KEY, created REAL, updated REAL, state TEXT);
CREATE TABLE IF NOT EXISTS messages(id TEXT PRIMARY KEY, session_id TEXT, created REAL, question TEXT,
  behavior TEXT, answer TEXT, codes TEXT, audience TEXT);
CREATE INDEX IF NOT EXISTS messages_session ON messages(session_id, created);
CREATE TABLE IF NOT EXISTS feedback(id TEXT PRIMARY KEY, message_id TEXT, created REAL, rating TEXT,
  comment TEXT);
"""


class UnknownSession(KeyError):
    pass


class UnknownMessage(KeyError):
    pass


@dataclass
class SessionState:
    procedures: list[str] = field(default_factory=list)  # what the conversation is about
    facets: list[str] = field(default_factory=list)
    options: list[dict[str, str]] = field(default_factory=list)  # pending clarify options
    lang: str = "vi"
    turns: int = 0
    topic: str = ""  # the words that named the session's procedure (`query.topic`), PII redacted


class Conversations:
    def __init__(self, path: Path, ttl_s: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)
        self.ttl_s = ttl_s
        self._lock = threading.Lock()

    def close(self) -> None:
        self.db.close()

    def load(self, session_id: str | None) -> tuple[str, SessionState]:
        """The session's state; a new session when `session_id` is None. Unknown or expired: error."""
        if session_id is None:
            return uuid.uuid4().hex, SessionState()
        row = self.db.execute("SELECT updated, state FROM sessions WHERE id=?", (session_id,)).fetchone()
        if row is None or row[0] < time.time() - self.ttl_s:
            raise UnknownSession(session_id)
        return session_id, SessionState(**json.loads(row[1]))

    def exists(self, session_id: str, audience: str | None = None) -> bool:
        """Whether the session is known and not expired; given an audience, also whether it is that
        audience's conversation (a citizen cannot continue an official's session, nor the reverse)."""
        try:
            self.load(session_id)
        except UnknownSession:
            return False
        row = self.db.execute("SELECT audience FROM messages WHERE session_id=? ORDER BY created LIMIT 1",
                              (session_id,)).fetchone()
        return audience is None or row is None or row[0] == audience

    def record(self, session_id: str, state: SessionState, question: str, answer: dict[str, Any],
               audience: str) -> str:
        """Store the turn (question and answer redacted) and the new state; returns the message id."""
        message_id = uuid.uuid4().hex
        now = time.time()
        stored = dict(answer, answer=redact(answer.get("answer", "")))
        with self._lock, self.db:
            self.db.execute(
                "INSERT INTO sessions(id, created, updated, state) VALUES(?,?,?,?) "
                "ON CONFLICT(id) DO UPDATE SET updated=excluded.updated, state=excluded.state",
                (session_id, now, now, json.dumps(asdict(state), ensure_ascii=False)))
            self.db.execute(
                "INSERT INTO messages VALUES(?,?,?,?,?,?,?,?)",
                (message_id, session_id, now, redact(question), answer.get("behavior"),
                 json.dumps(stored, ensure_ascii=False),
                 json.dumps(state.procedures), audience))
        return message_id

    def history(self, session_id: str) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT id, question, answer FROM messages WHERE session_id=? ORDER BY created", (session_id,))
        return [{"message_id": i, "question": q, "answer": json.loads(a)} for i, q, a in rows]

    def add_feedback(self, message_id: str, rating: str, comment: str | None) -> str:
        if self.db.execute("SELECT 1 FROM messages WHERE id=?", (message_id,)).fetchone() is None:
            raise UnknownMessage(message_id)
        fid = uuid.uuid4().hex
        with self._lock, self.db:
            self.db.execute("INSERT INTO feedback VALUES(?,?,?,?,?)",
                            (fid, message_id, time.time(), rating, redact(comment) if comment else None))
        return fid

    def feedback(self, limit: int = 200) -> dict[str, list[dict[str, Any]]]:
        """Feedback with the question it was about, and the questions the assistant refused."""
        fb = [
            {"id": i, "message_id": m, "created": c, "rating": r, "comment": cm, "question": q, "behavior": b}
            for i, m, c, r, cm, q, b in self.db.execute(
                "SELECT f.id, f.message_id, f.created, f.rating, f.comment, m.question, m.behavior FROM feedback f "
                "LEFT JOIN messages m ON m.id=f.message_id ORDER BY f.created DESC LIMIT ?", (limit,))
        ]
        refused = [
            {"message_id": i, "session_id": s, "created": c, "question": q}
            for i, s, c, q in self.db.execute(
                "SELECT id, session_id, created, question FROM messages WHERE behavior='refuse' "
                "ORDER BY created DESC LIMIT ?", (limit,))
        ]
        return {"feedback": fb, "refused": refused}

    def expire(self) -> int:
        cutoff = time.time() - self.ttl_s
        with self._lock, self.db:
            old = [r[0] for r in self.db.execute("SELECT id FROM sessions WHERE updated<?", (cutoff,))]
            for sid in old:
                self.db.execute("DELETE FROM sessions WHERE id=?", (sid,))
        return len(old)
