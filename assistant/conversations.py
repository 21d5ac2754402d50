"""Sessions, messages and feedback in SQLite under the data dir. They survive a restart and expire
after a TTL. Everything a user typed is redacted before it is written.

The store is bounded (`purge`, run by the worker that records a turn at most every `PURGE_EVERY_S`):
a session's state goes when it expires or when more than `max_sessions` are live (least recently
used first); its messages and their feedback stay for officials' review until `retention_days`.

Also what officials review and teach from (`review`: refused questions, answers rated down and
clarify questions nobody picked an option of, near-duplicates grouped) and the audit log of the
examples they teach and undo (`log_example`, `example_log`).
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from assistant.redact import redact
from assistant.taught import example_id, repeat_key

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions(id TEXT PRIMARY KEY, created REAL, updated REAL, state TEXT);
CREATE TABLE IF NOT EXISTS messages(id TEXT PRIMARY KEY, session_id TEXT, created REAL, question TEXT,
  behavior TEXT, answer TEXT, codes TEXT, audience TEXT);
CREATE INDEX IF NOT EXISTS messages_session ON messages(session_id, created);
CREATE INDEX IF NOT EXISTS messages_created ON messages(created);
CREATE INDEX IF NOT EXISTS sessions_updated ON sessions(updated);
CREATE TABLE IF NOT EXISTS feedback(id TEXT PRIMARY KEY, message_id TEXT, created REAL, rating TEXT,
  comment TEXT);
CREATE INDEX IF NOT EXISTS feedback_message ON feedback(message_id);
CREATE TABLE IF NOT EXISTS example_audit(n INTEGER PRIMARY KEY AUTOINCREMENT, created REAL, actor TEXT, role TEXT,
  via_token INTEGER, action TEXT, example_id TEXT, question TEXT, expected_sources TEXT, expected_behavior TEXT,
  refer_to TEXT, message_id TEXT);
"""
KINDS = ("refuse", "down", "clarify")  # refused, rated down, clarify with no option picked
# words that do not tell two questions apart (folded): chat particles, pronouns, politeness
_PARTICLES = frozenset("a ah ak oi nhe nha nhi vay z the ha giup voi cho hoi xin toi minh em ban ad".split())
NEAR = 0.8  # share of words two questions have in common (of the words either has) to be one item
SCAN = 5000  # flagged messages read per review, newest first
PURGE_EVERY_S = 300.0


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
    def __init__(self, path: Path, ttl_s: int, max_sessions: int = 100_000, retention_days: int = 90) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)
        self.ttl_s, self.max_sessions, self.retention_s = ttl_s, max_sessions, retention_days * 86400
        self._lock = threading.Lock()
        self._purged = 0.0  # when this worker last purged

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
        if now - self._purged > PURGE_EVERY_S:
            self.purge(now)
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

    def purge(self, now: float | None = None) -> dict[str, int]:
        """Drop expired sessions, the least recently used beyond `max_sessions`, and messages (with
        their feedback) older than the retention; returns how many of each went."""
        now = time.time() if now is None else now
        with self._lock, self.db:
            self._purged = now
            expired = self.db.execute("DELETE FROM sessions WHERE updated<?", (now - self.ttl_s,)).rowcount
            over = self.db.execute(
                "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions ORDER BY updated DESC LIMIT -1 OFFSET ?)",
                (self.max_sessions,)).rowcount
            old = "SELECT id FROM messages WHERE created<?"
            feedback = self.db.execute(f"DELETE FROM feedback WHERE message_id IN ({old})",
                                       (now - self.retention_s,)).rowcount
            messages = self.db.execute("DELETE FROM messages WHERE created<?", (now - self.retention_s,)).rowcount
        return {"sessions": expired + over, "messages": messages, "feedback": feedback}

    def live(self) -> int:
        """Sessions that can still be continued."""
        return self.db.execute("SELECT COUNT(*) FROM sessions WHERE updated>=?", (time.time() - self.ttl_s,)).fetchone()[0]

    # --- what officials review and teach ----------------------------------------------------------
    def review(self, kinds: tuple[str, ...] = KINDS, since: float | None = None, until: float | None = None,
               search: str = "", taught: dict[str, dict[str, Any]] | None = None, status: str = "open",
               limit: int = 50) -> dict[str, Any]:
        """Questions to follow up, newest first: refused, rated down, or asked back (clarify) with no
        option picked in the next turn; near-duplicates (the same words up to case, diacritics,
        punctuation, order and chat particles, or `NEAR` of them) are one item with a count. `taught`
        (example id -> taught example) marks the items taught; one stays `open` while it has no
        example, or when it went wrong again after it was taught (`_still_wrong`). `status` keeps the
        `open` ones, the taught ones that are not (`taught`), or `all`. Text is as stored: redacted."""
        taught = taught or {}
        needle = repeat_key(search)
        flagged = []
        for mid, sid, created, question, behavior, answer, audience, next_behavior, next_codes, fb in self.db.execute(
                _REVIEW_SQL, (since or 0.0, until or 1e13, SCAN)):
            stored, ratings = json.loads(answer), json.loads(fb)
            reasons = {"refuse"} if behavior == "refuse" else set()
            if any(f["rating"] == "down" for f in ratings):
                reasons.add("down")
            if behavior == "clarify":
                offered = {o.get("source_id") for o in stored.get("options") or []}
                if not (next_behavior == "answer" and offered & set(json.loads(next_codes or "[]"))):
                    reasons.add("clarify")
            if not reasons & set(kinds) or needle not in repeat_key(question):
                continue
            flagged.append({"message_id": mid, "session_id": sid, "created": created, "question": question,
                            "behavior": behavior, "answer": stored.get("answer", ""),
                            "citations": stored.get("citations") or [], "options": stored.get("options") or [],
                            "audience": audience, "reasons": sorted(reasons),
                            "comments": [f["comment"] for f in ratings if f.get("comment")]})
        items = []
        for members in _near_duplicates(flagged):
            last = members[0]
            done = next((taught[e] for m in members if (e := example_id(m["question"])) in taught), None)
            is_open = done is None or _still_wrong(members, done)
            if status != "all" and is_open != (status == "open"):
                continue
            counts = {k: sum(k in m["reasons"] for m in members) for k in KINDS}
            items.append({
                "id": last["message_id"], "question": last["question"], "count": len(members),
                "counts": {k: n for k, n in counts.items() if n},
                "first_seen": _iso(members[-1]["created"]), "last_seen": _iso(last["created"]),
                "variants": list(dict.fromkeys(m["question"] for m in members[1:] if m["question"] != last["question"]))[:5],
                "message_ids": [m["message_id"] for m in members][:50],
                "audiences": sorted({m["audience"] for m in members}),
                "comments": [c for m in members for c in m["comments"]][:10],
                "last": {k: last[k] for k in ("message_id", "behavior", "answer", "citations", "options")},
                "taught": done, "open": is_open,
            })
        return {"items": items[:limit], "total": len(items), "scanned": len(flagged)}

    def log_example(self, actor: str | None, role: str, via_token: bool, action: str, example: dict[str, Any],
                    message_id: str | None = None) -> None:
        """Record who taught, merged or undid an example, when, and what it said."""
        with self._lock, self.db:
            self.db.execute(
                "INSERT INTO example_audit(created, actor, role, via_token, action, example_id, question, "
                "expected_sources, expected_behavior, refer_to, message_id) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                (time.time(), actor, role, int(via_token), action, example["id"], example["question"],
                 json.dumps(example.get("expected_sources") or []), example.get("expected_behavior"),
                 example.get("refer_to"), message_id))

    def example_log(self, limit: int = 200) -> list[dict[str, Any]]:
        """The audit log of taught examples, newest first."""
        rows = self.db.execute(
            "SELECT created, actor, role, via_token, action, example_id, question, expected_sources, expected_behavior, "
            "refer_to, message_id FROM example_audit ORDER BY n DESC LIMIT ?", (limit,))
        return [{"time": _iso(c), "actor": a, "role": r, "via_token": bool(t), "action": act, "example_id": e,
                 "question": q, "expected_sources": json.loads(s), "expected_behavior": b, "refer_to": ref,
                 "message_id": m} for c, a, r, t, act, e, q, s, b, ref, m in rows]


# each message with the next one of its session (did a clarify get its option picked?) and its ratings
_REVIEW_SQL = """
SELECT m.id, m.session_id, m.created, m.question, m.behavior, m.answer, m.audience, m.next_behavior, m.next_codes,
  (SELECT json_group_array(json_object('rating', f.rating, 'comment', f.comment)) FROM feedback f WHERE f.message_id=m.id)
FROM (SELECT *, LEAD(behavior) OVER w AS next_behavior, LEAD(codes) OVER w AS next_codes FROM messages
      WINDOW w AS (PARTITION BY session_id ORDER BY created)) m
WHERE m.created >= ? AND m.created < ? AND (m.behavior IN ('refuse', 'clarify')
  OR EXISTS (SELECT 1 FROM feedback f WHERE f.message_id=m.id AND f.rating='down'))
ORDER BY m.created DESC LIMIT ?
"""


def _still_wrong(members: list[dict[str, Any]], taught: dict[str, Any]) -> bool:
    """Whether one of the messages after the teaching was rated down, or, taught for a procedure, was
    refused or asked back again (refusals of a question taught as not covered are what was asked for)."""
    since = datetime.fromisoformat(taught["taught_at"]).timestamp()
    return any(m["created"] > since and ("down" in m["reasons"] or taught["expected_behavior"] == "answer")
               for m in members)


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def _near_duplicates(messages: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Messages (newest first) grouped: each joins the first group whose first message shares `NEAR`
    of their words (Jaccard over folded words without particles). Candidates are found by prefix
    filtering (two sets that similar share one of each set's rarest words), so it stays fast."""
    sigs = [frozenset(w for w in repeat_key(m["question"]).split() if w not in _PARTICLES)
            or frozenset(repeat_key(m["question"]).split()) for m in messages]
    df: dict[str, int] = {}
    for sig in set(sigs):
        for w in sig:
            df[w] = df.get(w, 0) + 1
    groups: list[tuple[frozenset[str], list[dict[str, Any]]]] = []
    exact: dict[frozenset[str], int] = {}
    postings: dict[str, list[int]] = {}
    for sig, msg in zip(sigs, messages):
        at = exact.get(sig)
        if at is None:
            seen = {g for w in _prefix(sig, df) for g in postings.get(w, ())}
            at = next((g for g in sorted(seen) if _jaccard(sig, groups[g][0]) >= NEAR), None)
        if at is None:
            at = len(groups)
            groups.append((sig, []))
            for w in _prefix(sig, df):
                postings.setdefault(w, []).append(at)
        exact.setdefault(sig, at)
        groups[at][1].append(msg)
    return [members for _, members in groups]


def _prefix(sig: frozenset[str], df: dict[str, int]) -> list[str]:
    """The rarest words of a set, as many as a set `NEAR`-similar to it must share one of."""
    return sorted(sig, key=lambda w: (df[w], w))[:len(sig) - math.ceil(NEAR * len(sig) - 1e-9) + 1]


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0
