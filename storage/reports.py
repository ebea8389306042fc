"""The SQL behind the monthly report: one month's incidents of one profile, their timers and events.

Plain values out; every figure is computed in bot/report.py.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from storage.db import Database, from_db, to_db


@dataclass(frozen=True)
class IncidentFact:
    id: int
    chat_id: int
    source: str
    track: str
    state: str
    departments: tuple[int, ...]  # the first is the lead
    outcome: str | None
    created_at: datetime
    detected_at: datetime
    closed_at: datetime | None

    @property
    def lead(self) -> int | None:
        return self.departments[0] if self.departments else None


@dataclass(frozen=True)
class TimerFact:
    incident_id: int
    timer_id: str
    department_id: int | None  # a co-executor's own timer; None: the incident's (the lead's)
    role: str
    clause: str
    started_at: datetime
    due_at: datetime
    paused_at: datetime | None
    stopped_at: datetime | None
    stop_event: str | None


@dataclass(frozen=True)
class EventFact:
    id: int
    incident_id: int
    event: str
    at: datetime
    user_id: int | None
    department_id: int | None


@dataclass(frozen=True)
class MonthData:
    incidents: list[IncidentFact]
    timers: list[TimerFact]
    events: list[EventFact]
    departments: dict[int, tuple[str, bool]] = field(default_factory=dict)  # id -> (name, archived)
    people: dict[int, str] = field(default_factory=dict)  # user id -> name
    heads: dict[int, tuple[int, ...]] = field(default_factory=dict)  # department id -> its heads' user ids


async def month_data(db: Database, profile: str, start: datetime, end: datetime,
                     timer_ids: Collection[str], chat_id: int | None = None) -> MonthData:
    """Incidents of ``profile`` created in [start, end) — of one group, if ``chat_id`` — their timers named
    ``timer_ids``, all their events, and the organisation (archived departments included: old incidents keep
    their names). The month's incidents drive each query (CROSS JOIN fixes SQLite's join order: the month
    through an index on the creation time, then each one's rows by index), so it costs the month, not the
    whole history."""
    scope = "i.profile = ? AND i.created_at >= ? AND i.created_at < ?" + (" AND i.chat_id = ?" if chat_id else "")
    params: tuple = (profile, to_db(start), to_db(end), *((chat_id,) if chat_id else ()))
    rows = await db.scan(
        "SELECT id, chat_id, source, track, state, departments, outcome, created_at, detected_at, closed_at "
        f"FROM incidents i WHERE {scope} ORDER BY id", params)
    incidents = [_incident(r) for r in rows]
    ids = [i.id for i in incidents]
    timers: list[TimerFact] = []
    events: list[EventFact] = []
    if ids and timer_ids:
        timers = [_timer(r) for r in await db.scan(
            "SELECT t.incident_id, t.timer_id, t.department_id, t.role, t.clause, t.started_at, t.due_at, "
            "t.paused_at, t.stopped_at, t.stop_event FROM incidents i CROSS JOIN timers t ON t.incident_id = i.id "
            f"WHERE {scope} AND t.timer_id IN ({','.join('?' * len(timer_ids))}) ORDER BY t.incident_id, t.id",
            (*params, *timer_ids))]
    if ids:
        events = [_event(r) for r in await db.scan(
            "SELECT e.id, e.incident_id, e.event, e.at, e.user_id, e.department_id FROM incidents i "
            f"CROSS JOIN incident_events e ON e.incident_id = i.id WHERE {scope} ORDER BY e.incident_id, e.id",
            params)]
    in_group = " WHERE chat_id = ?" if chat_id else ""
    departments = {r["id"]: (r["name"], bool(r["archived"])) for r in await db.scan(
        f"SELECT id, name, archived FROM departments{in_group} ORDER BY id", (chat_id,) if chat_id else ())}
    people = {r["user_id"]: r["name"] for r in await db.scan("SELECT user_id, name FROM people")}
    heads: dict[int, list[int]] = {}
    for r in await db.scan("SELECT DISTINCT department_id, user_id FROM memberships "
                           "WHERE department_id IS NOT NULL ORDER BY department_id, user_id"):
        heads.setdefault(r["department_id"], []).append(r["user_id"])
    return MonthData(incidents, timers, events, departments, people, {k: tuple(v) for k, v in heads.items()})


def _at(text: Any) -> datetime:
    moment = from_db(text)
    assert moment is not None
    return moment


def _incident(r: Any) -> IncidentFact:
    return IncidentFact(
        id=r["id"], chat_id=r["chat_id"], source=r["source"], track=r["track"], state=r["state"],
        departments=tuple(int(d) for d in json.loads(r["departments"] or "[]")), outcome=r["outcome"],
        created_at=_at(r["created_at"]), detected_at=_at(r["detected_at"]), closed_at=from_db(r["closed_at"]))


def _timer(r: Any) -> TimerFact:
    return TimerFact(
        incident_id=r["incident_id"], timer_id=r["timer_id"], department_id=r["department_id"], role=r["role"],
        clause=r["clause"], started_at=_at(r["started_at"]), due_at=_at(r["due_at"]),
        paused_at=from_db(r["paused_at"]), stopped_at=from_db(r["stopped_at"]), stop_event=r["stop_event"])


def _event(r: Any) -> EventFact:
    return EventFact(id=r["id"], incident_id=r["incident_id"], event=r["event"], at=_at(r["at"]),
                     user_id=r["user_id"], department_id=r["department_id"])
