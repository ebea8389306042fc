"""The organisation file: departments, their heads, who holds which role; `python -m bot org import FILE`.

The file is the whole truth: importing it makes the database say exactly what it says, in one
transaction. Departments missing from it are archived, people missing from it lose their roles.
Importing the same file twice changes nothing the second time. A bad file changes nothing at all:
every problem is printed as ``FILE: KEY: REASON`` and the exit code is 2.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.settings import ToolSettings
from profiles.loader import (
    DEFAULT_PROFILE,
    Problem,
    ProfileError,
    load_profile,
    problem_key,
    problem_reason,
    profile_files,
)
from storage import org
from storage.db import Database
from storage.org import ADMIN_ROLE

DEFAULT_HEAD_ROLE = "executor"
USERNAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$")

UserId = Annotated[int, Field(gt=0)]
Name = Annotated[str, Field(min_length=1, max_length=200)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, str_strip_whitespace=True)


class PersonSpec(_Strict):
    user_id: UserId
    name: Name
    username: str | None = None

    @field_validator("username")
    @classmethod
    def _username(cls, v: str | None) -> str | None:
        if v is None:
            return None
        v = v.removeprefix("@")
        if not USERNAME.match(v):
            raise ValueError(f"not a Telegram username: {v!r} (5-32 Latin letters, digits, _)")
        return v


class DepartmentSpec(_Strict):
    code: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")
    name: Name
    territorial: bool = False
    heads: list[PersonSpec] = []


class RoleHolderSpec(PersonSpec):
    roles: list[str] = Field(min_length=1)


class OrgSpec(_Strict):
    profile: str | None = None
    head_role: str = DEFAULT_HEAD_ROLE
    departments: list[DepartmentSpec] = Field(min_length=1)  # an empty file would archive everything
    people: list[RoleHolderSpec] = []


@dataclass(frozen=True)
class Org:
    """A validated file, ready to import: every person once, every membership by department code."""

    profile: str
    departments: tuple[DepartmentSpec, ...]
    people: tuple[org.Person, ...]
    memberships: frozenset[tuple[int, str, str | None]]  # (user id, role, department code or None)
    unheld_roles: tuple[str, ...] = ()  # profile roles nobody holds: worth a look, not an error


class OrgFileError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def read_org_file(path: Path, default_profile: str = DEFAULT_PROFILE, profiles_dir: Path | None = None) -> Org:
    """Parse and validate; OrgFileError with every problem found, one per key."""
    name = str(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise OrgFileError([Problem(name, "-", "file not found")]) from None
    except UnicodeDecodeError:
        raise OrgFileError([Problem(name, "-", "not UTF-8 text")]) from None
    except tomllib.TOMLDecodeError as e:
        raise OrgFileError([Problem(name, "-", f"not valid TOML: {e}")]) from None
    try:
        spec = OrgSpec.model_validate(raw)
    except ValidationError as e:
        raise OrgFileError([Problem(name, _key(err["loc"], raw), _reason(err)) for err in e.errors()]) from None
    profile_name = spec.profile or default_profile
    try:
        profile = load_profile(profile_name, profiles_dir)
    except ProfileError as e:
        if spec.profile is None:  # the default profile is broken: not this file's fault, say so as it is
            raise OrgFileError(e.problems) from None
        known = ", ".join(profile_files(profiles_dir))
        raise OrgFileError([Problem(name, "profile", f"no such valid profile {profile_name!r}; known: {known}")]
                           ) from None
    problems = [Problem(name, key, reason) for key, reason in _cross_check(spec, set(profile.roles), raw)]
    if problems:
        raise OrgFileError(problems)
    return _flatten(spec, profile_name, list(profile.roles))


def _cross_check(spec: OrgSpec, profile_roles: set[str], raw: dict) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    roles = profile_roles | {ADMIN_ROLE}
    known = ", ".join(sorted(roles))
    if spec.head_role not in profile_roles:
        problems.append(("head_role", f"unknown role {spec.head_role!r}; known: {', '.join(sorted(profile_roles))}"))
    codes: dict[str, int] = {}
    seen: dict[int, tuple[str, PersonSpec]] = {}  # user id -> (where first named, as named there)

    def person(where: str, p: PersonSpec) -> None:
        first = seen.setdefault(p.user_id, (where, p))
        if first[0] == where:
            return
        where0, p0 = first
        if p.name != p0.name:
            problems.append((f"{where}.name", f"user {p.user_id} is named {p0.name!r} in {where0}"))
        if p.username and p0.username and p.username.lower() != p0.username.lower():
            problems.append((f"{where}.username", f"user {p.user_id} is @{p0.username} in {where0}"))

    for i, d in enumerate(spec.departments):
        where = _key(("departments", i), raw)
        if d.code in codes:
            problems.append((f"{where}.code", f"duplicate code {d.code!r} (also departments[{codes[d.code]}])"))
        codes.setdefault(d.code, i)
        heads: set[int] = set()
        for j, h in enumerate(d.heads):
            hwhere = f"{where}.heads[{j}]"
            if h.user_id in heads:
                problems.append((f"{hwhere}.user_id", f"user {h.user_id} is listed twice as a head"))
            heads.add(h.user_id)
            person(hwhere, h)
    people: dict[int, int] = {}
    for i, p in enumerate(spec.people):
        where = _key(("people", i), raw)
        if p.user_id in people:
            first = people[p.user_id]
            problems.append((f"{where}.user_id", f"user {p.user_id} is listed twice (also people[{first}]); "
                                                 "put all his roles in one entry"))
        people.setdefault(p.user_id, i)
        person(where, p)
        for j, role in enumerate(p.roles):
            if role not in roles:
                problems.append((f"{where}.roles[{j}]", f"unknown role {role!r}; known: {known}"))
            elif role in p.roles[:j]:
                problems.append((f"{where}.roles[{j}]", f"role {role!r} is listed twice"))
            elif role == spec.head_role:
                problems.append((f"{where}.roles[{j}]", f"{role!r} is the head role: list the person under "
                                                        "departments.heads of his department instead"))
    return problems


def _flatten(spec: OrgSpec, profile_name: str, profile_roles: list[str]) -> Org:
    people: dict[int, org.Person] = {}
    wanted: set[tuple[int, str, str | None]] = set()

    def add(p: PersonSpec) -> None:
        old = people.get(p.user_id)
        people[p.user_id] = org.Person(p.user_id, p.name, p.username or (old.username if old else None))

    for d in spec.departments:
        for h in d.heads:
            add(h)
            wanted.add((h.user_id, spec.head_role, d.code))
    for p in spec.people:
        add(p)
        wanted.update((p.user_id, role, None) for role in p.roles)
    held = {role for _, role, _ in wanted}
    return Org(profile=profile_name, departments=tuple(spec.departments),
               people=tuple(sorted(people.values())), memberships=frozenset(wanted),
               unheld_roles=tuple(r for r in profile_roles if r not in held))


# --- the import -------------------------------------------------------------------------------


@dataclass
class ImportSummary:
    departments_added: list[str] = field(default_factory=list)
    departments_updated: list[str] = field(default_factory=list)
    departments_archived: list[str] = field(default_factory=list)
    people_added: int = 0
    people_updated: int = 0
    people_unchanged: int = 0
    memberships_added: int = 0
    memberships_removed: int = 0
    roles_removed_from: list[org.Person] = field(default_factory=list)  # people absent from the file

    @property
    def changed(self) -> bool:
        return bool(self.departments_added or self.departments_updated or self.departments_archived
                    or self.people_added or self.people_updated or self.memberships_added
                    or self.memberships_removed)


class _DryRun(Exception):
    pass


async def import_org(db: Database, spec: Org, *, chat_id: int | None = None, dry_run: bool = False) -> ImportSummary:
    """Make the group's organisation exactly the file's, in one transaction. ``chat_id`` None: no group is
    bound yet, and the first /bind adopts what is imported."""
    summary = ImportSummary()
    try:
        async with db.transaction():
            ids: dict[str, int] = {}
            for d in spec.departments:
                ids[d.code], change = await org.upsert_department(db, chat_id, d.code, d.name, d.territorial)
                if change == "added":
                    summary.departments_added.append(d.code)
                elif change == "updated":
                    summary.departments_updated.append(d.code)
            archived = await org.archive_departments_except(db, chat_id, ids)
            summary.departments_archived = [d.code for d in archived]
            for p in spec.people:
                change = await org.upsert_person(db, p)
                summary.people_added += change == "added"
                summary.people_updated += change == "updated"
                summary.people_unchanged += change == "same"
            wanted = {org.Membership(uid, role, None if code is None else ids[code])
                      for uid, role, code in spec.memberships}
            listed = {p.user_id for p in spec.people}
            before = {m.user_id for m in await org.memberships(db, chat_id)}
            added, removed = await org.set_memberships(db, chat_id, wanted)
            summary.memberships_added, summary.memberships_removed = len(added), len(removed)
            for uid in sorted(before - listed):
                summary.roles_removed_from.append(await org.person(db, uid) or org.Person(uid, "?"))
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return summary


def render_summary(path: Path, database: Path, spec: Org, s: ImportSummary, dry_run: bool = False) -> str:
    head = f"{path}: {'would import' if dry_run else 'imported'} into {database} (profile {spec.profile})"
    lines = [head]
    if not s.changed:
        lines.append("nothing changed: the database already matches the file")
    n_dep = len(spec.departments)
    lines.append(f"departments: {len(s.departments_added)} added, {len(s.departments_updated)} updated, "
                 f"{len(s.departments_archived)} archived; {n_dep} active")
    lines.append(f"people: {s.people_added} added, {s.people_updated} updated, {s.people_unchanged} unchanged")
    lines.append(f"roles: {s.memberships_added} added, {s.memberships_removed} removed")
    if s.departments_archived:
        lines.append("archived (not in the file): " + ", ".join(s.departments_archived))
    if s.roles_removed_from:
        lines.append("roles removed (not in the file): "
                     + ", ".join(f"{p.name} ({p.user_id})" for p in s.roles_removed_from))
    headless = [d.code for d in spec.departments if not d.heads]
    if headless:
        lines.append("note: departments without a head: " + ", ".join(headless))
    if spec.unheld_roles:
        lines.append("note: nobody holds the role: " + ", ".join(spec.unheld_roles))
    return "\n".join(lines)


# --- the command ------------------------------------------------------------------------------


def cli_import(args: argparse.Namespace, profiles_dir: Path | None) -> int:
    """`org import FILE [--group CHAT_ID] [--database PATH] [--dry-run]`: 0 imported, 2 the file is invalid or
    the group is unclear (nothing changed)."""
    env = ToolSettings()
    database = args.database or env.database_path
    try:
        spec = read_org_file(args.file, env.default_profile, profiles_dir)
    except OrgFileError as e:
        for p in e.problems:
            print(p)
        return 2
    outcome = asyncio.run(_import_into(database, spec, getattr(args, "group", None), args.dry_run))
    if isinstance(outcome, str):
        print(f"{args.file}: {outcome}")
        return 2
    print(render_summary(args.file, database, spec, outcome, args.dry_run))
    return 0


async def _import_into(database: Path, spec: Org, group: int | None, dry_run: bool) -> ImportSummary | str:
    async with Database.opened(database) as db:
        target = await target_group(db, spec, group)
        if isinstance(target, str):
            return target
        return await import_org(db, spec, chat_id=target, dry_run=dry_run)


async def target_group(db: Database, spec: Org, chat_id: int | None) -> int | str | None:
    """The group an import goes to: the one named, else the only one bound, else none yet (adopted by the
    first /bind). A string says why it cannot be told."""
    bound = await org.groups(db)
    listing = "; ".join(f"{g.chat_id} «{g.title}» ({g.profile})" for g in bound)
    if chat_id is None:
        if len(bound) > 1:
            return f"several groups are bound, name one with --group: {listing}"
        if not bound:
            return None
        chosen = bound[0]
    else:
        found = next((g for g in bound if g.chat_id == chat_id), None)
        if found is None:
            return f"group {chat_id} is not bound; bound: {listing or 'none'}"
        chosen = found
    if chosen.profile != spec.profile:
        return (f"group {chosen.chat_id} «{chosen.title}» works by profile {chosen.profile!r}, the file is for "
                f"{spec.profile!r}: set profile = {chosen.profile!r} in the file or /bind the group anew")
    return chosen.chat_id


# --- problem keys -----------------------------------------------------------------------------


def _key(loc: tuple, raw: Any) -> str:
    """('departments', 2, 'heads', 0, 'user_id') -> 'departments[2] (zhkh).heads[0] (Петров П. П.).user_id'."""
    return problem_key(loc, raw, tags=("code", "name"))


def _reason(err: Any) -> str:
    kind = err["type"]
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"must be a whole number, got {err.get('input')!r}"
    if kind == "string_pattern_mismatch" and err["loc"][-1:] == ("code",):
        return f"must be short Latin lowercase (a-z, 0-9, _ -), got {err.get('input')!r}"
    return problem_reason(err)
