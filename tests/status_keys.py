"""What /status and the digest sort by is stored beside each incident (storage.incidents.write_status); these
checks recompute it with the core's rule (bot.workflow.notices.status_keys) from the incident as stored and
list every difference. Scenario.settle runs ``check_file`` after every step of every scenario."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any

from bot.workflow.notices import status_fingerprint, status_keys
from profiles.loader import load_profile
from profiles.schema import Profile
from storage.db import Database, to_db
from storage.incidents import _row


def _differences(incidents: list[Any], timers: list[Any], departments: list[Any],
                 profile_of: Any) -> list[str]:
    by_incident: dict[int, list[Any]] = {}
    for t in timers:
        by_incident.setdefault(t["incident_id"], []).append(t)
    stored: dict[int, list[tuple]] = {}
    for d in departments:
        stored.setdefault(d["incident_id"], []).append(tuple(d))
    out = []
    for r in incidents:
        if r["status_of"] is None and r["state"] == "new" and r["departments"] == "[]" and r["id"] not in by_incident:
            continue  # inserted, not saved yet (store.insert then store.save, in one transaction)
        profile: Profile = profile_of(r["profile"])
        incident = _row(r, by_incident.get(r["id"], [])).incident
        keys = status_keys(profile, incident)
        want = (to_db(keys.due), to_db(keys.late_from), to_db(keys.waiting))
        have = (r["status_due"], r["status_late"], r["status_waiting"])
        if want != have:
            out.append(f"№{r['id']}: stored {have}, the core says {want}")
        if incident.state.is_open and r["status_of"] != status_fingerprint(profile):
            out.append(f"№{r['id']}: written under profile {r['status_of']}")
        due, late = to_db(keys.due), to_db(keys.late_from)
        rows = sorted((d, r["id"], int(listed), to_db(his), to_db(his) or due, to_db(his) or late)
                      for d, listed, his in keys.departments)
        if sorted(stored.get(r["id"], [])) != rows:
            out.append(f"№{r['id']}: departments stored {sorted(stored.get(r['id'], []))}, the core says {rows}")
    return out


_INCIDENTS = "SELECT * FROM incidents ORDER BY id"
_TIMERS = "SELECT * FROM timers WHERE stopped_at IS NULL ORDER BY incident_id, id"
_DEPARTMENTS = ("SELECT department_id, incident_id, listed, his_due, due, late FROM status_departments "
                "ORDER BY incident_id, department_id")


async def mismatches(db: Database, profile_of: Any = load_profile) -> list[str]:
    return _differences(await db.fetchall(_INCIDENTS), await db.fetchall(_TIMERS), await db.fetchall(_DEPARTMENTS),
                        profile_of)


def check_file(path: Path, profiles_dir: Path | None = None) -> None:
    """Raise AssertionError when the database at ``path`` holds keys the core would not compute."""
    if not path.exists():
        return
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.row_factory = sqlite3.Row
        try:
            found = _differences(conn.execute(_INCIDENTS).fetchall(), conn.execute(_TIMERS).fetchall(),
                                 conn.execute(_DEPARTMENTS).fetchall(), lambda name: load_profile(name, profiles_dir))
        except sqlite3.OperationalError:  # not migrated yet
            return
    assert not found, "/status's keys differ from the core's:\n" + "\n".join(found)
