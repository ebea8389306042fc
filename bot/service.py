"""Use cases of the Telegram workflow. Each takes plain values from a handler, runs the core in one
transaction with the outbox rows it causes, and returns what to tell the presser (if anything).

Nothing here calls Telegram: every message goes to the outbox; the sender delivers it.

Languages: what goes back to the presser (alerts, his panel, direct answers) is in his locale, set per update
by the middleware; what goes to the group is rendered in the bot's language (``with use(self.language)``);
what goes to someone else privately, in that person's (``language_of``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import urlparse

import aiosqlite

from bot import keyboards as kb
from bot import texts
from bot.clock import Clock
from bot.i18n import N_, _, use
from bot.workflow import (
    Actor,
    Approve,
    Close,
    Command,
    Correct,
    Decision,
    Publish,
    Refusal,
    RequestRework,
    ReturnNotCompetent,
    Route,
    State,
    SubmitDraft,
    SubmitPart,
    WithdrawDraft,
    decide,
    may,
    notices,
    open_incident,
)
from profiles.events import Action, Outcome
from profiles.loader import load_profile
from profiles.schema import Profile
from storage import absences, org
from storage import incidents as store
from storage.db import Database, from_db, to_db
from storage.outbox import enqueue, enqueue_latest

TEXT_REPLIES = ("rw", "co", "np", "nc", "pu")  # prompts answered by the next message in the thread
URL = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
ORIGINAL_LIMIT = 10


@dataclass(frozen=True)
class IncomingMessage:
    """What the bot needs of a Telegram message, unpacked by the handler."""

    chat_id: int
    message_id: int
    user_id: int
    user_name: str
    text: str  # text or caption
    date: datetime
    thread_id: int | None = None
    reply_to: int | None = None
    media_group_id: str | None = None
    links: tuple[str, ...] = ()
    forward: dict[str, Any] | None = None  # {"kind", "title", "username", "date"}
    has_media: bool = False


@dataclass
class Reply:
    """What a handler says back right away (callback alert or nothing); the rest is in the outbox."""

    alert: str | None = None
    show_alert: bool = False


class Service:
    def __init__(self, db: Database, clock: Clock, profiles_dir: Any = None,
                 admin_ids: frozenset[int] = frozenset(), default_profile: str = "izobilny",
                 language: str = "ru") -> None:
        self.db = db
        self.clock = clock
        self.profiles_dir = profiles_dir
        self.admin_ids = admin_ids  # ADMIN_IDS: administrators of the whole bot from the settings
        self.default_profile = default_profile
        self.language = language  # BOT_LANGUAGE: the groups' language, and anyone's who has not chosen his own
        self._profiles: dict[str, Profile] = {}

    def profile(self, name: str) -> Profile:
        if name not in self._profiles:
            self._profiles[name] = load_profile(name, self.profiles_dir)
        return self._profiles[name]

    async def language_of(self, user_id: int) -> str:
        """The language a person reads: his own choice (/language), else the bot's."""
        return await org.language(self.db, user_id) or self.language

    async def actor(self, user_id: int, chat_id: int) -> Actor:
        """What the user may do in the group: his roles and departments, and those of whoever he stands in
        for while they are away (/away)."""
        roles = set(await org.roles_of(self.db, user_id, chat_id))
        departments = set(await org.departments_headed_by(self.db, user_id, chat_id))
        for absent in await absences.acting_for(self.db, chat_id, user_id, self.clock.now()):
            roles |= await org.roles_of(self.db, absent, chat_id) - {org.ADMIN_ROLE}
            departments |= await org.departments_headed_by(self.db, absent, chat_id)
        if user_id in self.admin_ids:
            roles.add(org.ADMIN_ROLE)
        return Actor(user_id, frozenset(roles), frozenset(departments))

    async def is_admin(self, user_id: int, chat_id: int | None = None) -> bool:
        """An administrator of the group (or, chat_id None, of the whole bot)."""
        if user_id in self.admin_ids or await org.is_bot_admin(self.db, user_id):
            return True
        return chat_id is not None and org.ADMIN_ROLE in await org.roles_of(self.db, user_id, chat_id)

    async def on_duty(self, chat_id: int, people: list[org.Person]) -> list[org.Person]:
        """Who gets what is addressed to these people now: an absent one's substitute instead of him."""
        away = await absences.active(self.db, chat_id, self.clock.now())
        out: dict[int, org.Person] = {}
        for p in people:
            if p.user_id in away:
                sub = away[p.user_id].substitute_id
                p = await org.person(self.db, sub) or org.Person(sub, str(sub))
            out.setdefault(p.user_id, p)
        return list(out.values())

    async def with_role(self, chat_id: int, *roles: str) -> list[org.Person]:
        """The group's holders of these roles, on duty now."""
        people = [p for r in roles for p in await org.people_with_role(self.db, r, chat_id)]
        return await self.on_duty(chat_id, people)

    async def heads(self, department_id: int, chat_id: int) -> list[org.Person]:
        return await self.on_duty(chat_id, await org.heads_of(self.db, department_id))

    async def groups_where(self, user_id: int, action: Action) -> list[org.Group]:
        """The bound groups where the user may do this (his own roles or as a substitute), by title."""
        found = []
        for g in await org.groups(self.db):
            if may(self.profile(g.profile), await self.actor(user_id, g.chat_id), action):
                found.append(g)
        return sorted(found, key=lambda g: (g.title, g.chat_id))

    # --- intake ------------------------------------------------------------------------------

    async def intake_message(self, msg: IncomingMessage) -> str | None:
        """A message in the coordinator's private chat. Returns a direct answer for non-coordinators."""
        mine = await self.groups_where(msg.user_id, Action.INTAKE)
        if not mine:
            if not await org.groups(self.db):
                return _("Бот ещё не подключён к группе: администратор должен отправить /bind в группе.")
            return _("Принимать сообщения в работу может только координатор. "
                     "Если это ошибка — напишите администратору.")
        now = self.clock.now()
        awaited = await store.get_awaited(self.db, msg.user_id, msg.chat_id)
        if awaited and awaited.get("kind") == "intake_time":
            return await self._intake_time(msg, now)
        async with self.db.transaction() as conn:
            data = await store.get_intake(conn, msg.user_id)
            if data and msg.media_group_id and data.get("media_group_id") == msg.media_group_id:
                data["messages"].append(msg.message_id)
                data["text"] = data["text"] or msg.text
                await store.put_intake(conn, msg.user_id, data, now)
                return None
            # the group of the previous message, if still his; else the first (a button switches)
            previous = data.get("group") if data else None
            group = next((g for g in mine if g.chat_id == previous), mine[0])
            profile = self.profile(group.profile)
            data = self._new_intake(profile, msg, group.chat_id)
            data["groups"] = [g.chat_id for g in mine]
            await store.put_intake(conn, msg.user_id, data, now)
            await self._send_panel(conn, profile, msg.chat_id, data, now)
        return None

    def _new_intake(self, profile: Profile, msg: IncomingMessage, group_chat: int) -> dict[str, Any]:
        source, reason = propose_source(profile, msg.forward, msg.links)
        detected = msg.forward["date"] if msg.forward and msg.forward.get("date") else to_db(self.clock.now())
        return {
            "group": group_chat, "owner": msg.user_id, "chat_id": msg.chat_id, "messages": [msg.message_id],
            "media_group_id": msg.media_group_id, "text": msg.text, "link": msg.links[0] if msg.links else None,
            "links": list(msg.links),
            "origin": msg.forward or {}, "source": source, "source_reason": reason, "detected_at": detected,
            # kept as it reads in the panel's language (the coordinator's own)
            "detected_reason": _("время публикации") if msg.forward and msg.forward.get("date")
            else _("время получения"),
            "departments": [],
        }

    async def _send_panel(self, conn: aiosqlite.Connection, profile: Profile, chat_id: int, data: dict[str, Any],
                          now: datetime, edit_message: int | None = None) -> None:
        departments = [(d.id, d.name) for d in await org.active_departments(self.db, data["group"])]
        group = await org.group(self.db, data["group"])
        text = self._panel_text(profile, data, departments, now, group.title if group else "")
        several = len(data.get("groups", ())) > 1
        markup = kb.intake_keyboard(profile, data["source"], departments, data["departments"],
                                    bool(data.get("significant")), group.title if group and several else None)
        if edit_message:
            await enqueue(conn, chat_id, "editMessageText",
                          {"chat_id": chat_id, "message_id": edit_message, "text": text, "reply_markup": markup}, now)
        else:
            await enqueue(conn, chat_id, "sendMessage", {"chat_id": chat_id, "text": text, "reply_markup": markup},
                          now, purpose=f"panel:{data['owner']}")

    def _panel_text(self, profile: Profile, data: dict[str, Any], departments: list[tuple[int, str]],
                    now: datetime, group_title: str) -> str:
        detected = from_db(data["detected_at"]) or now
        names = dict(departments)
        if data["source"]:
            src = profile.source(data["source"])
            track = profile.tracks[src.track]
            source_line = _("Источник: <b>{source}</b> ({reason})").format(
                source=escape(src.title), reason=escape(data["source_reason"]))
            route = next((t for t in profile.timers_for(src.track) if "detected" in t.start), None)
            due = profile.clock.add(detected, route.duration, route.clock) if route and route.duration else None
            deadline = _(" — направить до {due} ({clause})").format(
                due=texts.when(due, profile, now), clause=escape(route.clause)) if due and route else ""
            track_line = _("Порядок: {track} ({clause})").format(track=escape(track.title), clause=escape(track.clause))
        else:
            source_line, track_line, deadline = _("Источник: <b>не определён — выберите ниже</b>"), None, ""
        chosen = data["departments"]
        deps = ", ".join(("★ " if i == 0 and len(chosen) > 1 else "") + escape(names.get(d, "?"))
                         for i, d in enumerate(chosen)) or _("не выбраны")
        return texts.lines(
            _("<b>Новое сообщение</b>") + (f" → «{escape(group_title)}»" if len(data.get("groups", ())) > 1 else ""),
            texts.quote(data["text"], 400) or (_("(медиа без подписи)") if data["messages"] else None),
            source_line, track_line,
            _("Выявлено: {when} ({reason}){deadline}").format(
                when=texts.when(detected, profile, now), reason=escape(data["detected_reason"]), deadline=deadline),
            _("Исполнители: {departments}").format(departments=deps),
            _("Первый выбранный отдел — ответственный (★).") if len(chosen) > 1 else None,
            _("❗ Общественно значимое: контролёр получит его сразу.") if data.get("significant") else None,
        )

    async def intake_press(self, user_id: int, chat_id: int, message_id: int, action: str, value: int) -> Reply:
        draft = await store.get_intake(self.db, user_id)
        group = await org.group(self.db, draft["group"]) if draft else None
        if draft is None or group is None:
            return Reply(_("Черновик не найден: перешлите сообщение ещё раз."), show_alert=True)
        profile = self.profile(group.profile)
        if not may(profile, await self.actor(user_id, group.chat_id), Action.INTAKE):
            return Reply(_("Это может сделать только координатор."), show_alert=True)
        now = self.clock.now()
        async with self.db.transaction() as conn:
            data = await store.get_intake(conn, user_id)
            if data is None:  # sent or cancelled by a press a moment ago
                return Reply(_("Черновик уже отправлен или отменён."), show_alert=True)
            if chat_id != data["chat_id"] or message_id != data.get("panel", message_id):
                return Reply(_("Это старая панель: работайте с последней."), show_alert=True)
            if action == "src":
                if not 0 <= value < len(profile.sources):
                    return Reply(_("Нет такого источника."), show_alert=True)
                data["source"], data["source_reason"] = profile.sources[value].id, _("выбран вручную")
            elif action == "grp":  # the next of his groups: another organisation, another profile
                mine = await self.groups_where(user_id, Action.INTAKE)  # not empty: checked above
                ids = [g.chat_id for g in mine]
                following = mine[(ids.index(group.chat_id) + 1) % len(mine)]
                data.update(group=following.chat_id, groups=ids, departments=[])
                if following.profile != profile.id:  # its sources: proposed anew from the forward and the links
                    profile = self.profile(following.profile)
                    data["source"], data["source_reason"] = propose_source(
                        profile, data.get("origin"), data.get("links", []))
            elif action == "dep":
                if await org.department_in(self.db, group.chat_id, value) is None:
                    return Reply(_("Нет такого отдела."), show_alert=True)
                chosen = data["departments"]
                data["departments"] = [d for d in chosen if d != value] if value in chosen else [*chosen, value]
            elif action == "sig":
                data["significant"] = not data.get("significant")
            elif action == "time":
                await store.put_awaited(conn, user_id, chat_id, {"kind": "intake_time"}, now)
                await enqueue(conn, chat_id, "sendMessage", {
                    "chat_id": chat_id,
                    "text": _("Пришлите время выявления: <code>09:40</code> или <code>23.11 09:40</code>.")}, now)
                return Reply()
            elif action == "cancel":
                await store.put_intake(conn, user_id, None, now)
                await enqueue(conn, chat_id, "editMessageText",
                              {"chat_id": chat_id, "message_id": message_id, "text": _("Черновик отменён.")}, now)
                return Reply(_("Отменено"))
            elif action == "send":
                problem = await self._send_intake(conn, profile, group, user_id, data, message_id, now)
                return Reply(problem, show_alert=True) if problem else Reply(_("Отправлено"))
            await store.put_intake(conn, user_id, data, now)
            await self._send_panel(conn, profile, chat_id, data, now, edit_message=message_id)
        return Reply()

    async def _intake_time(self, msg: IncomingMessage, now: datetime) -> str | None:
        data = await store.get_intake(self.db, msg.user_id)
        group = await org.group(self.db, data["group"]) if data else None
        if data is None or group is None:
            async with self.db.transaction() as conn:
                await store.put_awaited(conn, msg.user_id, msg.chat_id, None, now)
            return _("Черновик не найден: перешлите сообщение ещё раз.")
        profile = self.profile(group.profile)
        moment = parse_local_time(msg.text, profile, now)
        if moment is None:
            return _("Не понял время. Пример: 09:40 или 23.11 09:40.")
        if moment > now:
            return _("Время выявления не может быть в будущем.")
        async with self.db.transaction() as conn:
            await store.put_awaited(conn, msg.user_id, msg.chat_id, None, now)
            data["detected_at"], data["detected_reason"] = to_db(moment), _("указано вручную")
            await store.put_intake(conn, msg.user_id, data, now)
            await self._send_panel(conn, profile, msg.chat_id, data, now)
        return None

    async def _send_intake(self, conn: aiosqlite.Connection, profile: Profile, group: org.Group, user_id: int,
                           data: dict[str, Any], panel_id: int, now: datetime) -> str | None:
        if not data["source"]:
            return _("Выберите источник.")
        if not data["departments"]:
            return _("Выберите хотя бы один отдел.")
        detected = from_db(data["detected_at"]) or now
        incident_id = await store.next_id(conn)
        opened = open_incident(profile, incident_id, data["source"], detected, now)
        routed = decide(profile, opened.incident, Route(tuple(data["departments"])),
                        await self.actor(user_id, group.chat_id), now)
        if isinstance(routed, Refusal):
            return routed.reason
        await store.insert(conn, opened.incident, chat_id=group.chat_id, profile=profile.id, source=data["source"],
                           text=data["text"], link=data["link"], origin=data["origin"], detected_at=detected,
                           created_by=user_id, now=now, significant=bool(data.get("significant")))
        await store.save(conn, profile, routed.incident, now, opened.stopped + routed.stopped,
                         plan=notice_plan(profile, routed.incident, now))
        await store.log_events(conn, incident_id, opened.events, detected, user_id)
        await store.log_events(conn, incident_id, routed.events, now, user_id)
        row = await store.load(conn, incident_id)
        assert row is not None
        if group.is_forum:
            await enqueue(conn, group.chat_id, "createForumTopic",
                          {"chat_id": group.chat_id, "name": await self._topic_name(row, profile)}, now,
                          purpose=f"topic:{incident_id}")
        with use(self.language):  # the card is the group's
            await enqueue(conn, group.chat_id, "sendMessage", {
                "chat_id": group.chat_id, "message_thread_id": {"$thread": incident_id},
                "text": await self.card_text(row, profile, now),
                "reply_markup": kb.card_keyboard(incident_id, bool(profile.workflow.outcomes))},
                now, purpose=f"card:{incident_id}")
        if row.significant:
            await self._report_significant(conn, row, profile, now)
        ids = data["messages"][:ORIGINAL_LIMIT]
        await enqueue(conn, group.chat_id, "copyMessages", {
            "chat_id": group.chat_id, "message_thread_id": {"$thread": incident_id},
            "from_chat_id": data["chat_id"], "message_ids": ids}, now)
        await store.put_intake(conn, user_id, None, now)
        await enqueue(conn, data["chat_id"], "editMessageText", {
            "chat_id": data["chat_id"], "message_id": panel_id,
            "text": _("Инцидент №{number} отправлен в группу «{group}».").format(
                number=incident_id, group=escape(group.title))}, now)
        return None

    async def _report_significant(self, conn: aiosqlite.Connection, row: store.IncidentRow, profile: Profile,
                                  now: datetime) -> None:
        """A socially significant message is reported to the controller at once (Ставрополь п. 24,
        Первомайский р-н п. 24)."""
        for person in await self.with_role(row.chat_id, *profile.roles_with(Action.ESCALATIONS)):
            with use(await self.language_of(person.user_id)):
                text = texts.lines(_("❗ <b>Общественно значимое сообщение №{number}</b> ({source})").format(
                    number=row.incident.id, source=escape(profile.source(row.source).title)),
                    texts.quote(row.text, 1500), f"🔗 {escape(row.link)}" if row.link else None)
            await enqueue(conn, person.user_id, "sendMessage", {"chat_id": person.user_id, "text": text}, now)

    async def _topic_name(self, row: store.IncidentRow, profile: Profile) -> str:
        deps = [await org.department(self.db, d) for d in row.incident.departments[:1]]
        first = " ".join(row.text.split()[:5]) or profile.source(row.source).title
        name = " · ".join(x for x in (f"№{row.incident.id}", deps[0].name if deps and deps[0] else "", first) if x)
        return name[:128]

    # --- the card ----------------------------------------------------------------------------

    async def card_text(self, row: store.IncidentRow, profile: Profile, now: datetime) -> str:
        """In the current locale: the callers set the group's."""
        inc = row.incident
        source = profile.source(row.source)
        dep_lines = []
        away = await absences.active(self.db, row.chat_id, now)
        for i, dep_id in enumerate(inc.departments):
            dep = await org.department(self.db, dep_id)
            heads = ", ".join([await self._head_line(p, away, profile, now)
                               for p in await org.heads_of(self.db, dep_id)])
            mark = "★ " if i == 0 and len(inc.departments) > 1 else ""
            dep_lines.append(f"{mark}{escape(dep.name if dep else '?')}" + (f" — {heads}" if heads else ""))
        status = texts.state_title(inc.state)
        if inc.outcome:
            reason = f": {escape(row.outcome_reason)}" if row.outcome_reason else ""
            status = texts.outcome_title(inc.outcome) + reason
        deadlines = [texts.deadline_line(t, profile, inc.track, now) for t in inc.timers]
        return texts.lines(
            f"<b>№{inc.id} · {escape(source.title)}</b>" + (_(" ❗ общественно значимое") if row.significant else ""),
            _("Выявлено: {when}").format(when=texts.when(row.detected_at, profile, now)),
            texts.quote(row.text),
            f"🔗 {escape(row.link)}" if row.link else None,
            _("Исполнители: {departments}").format(departments="; ".join(dep_lines) if dep_lines else "—"),
            _("Статус: <b>{status}</b>").format(status=status),
            [_("Сроки:"), *deadlines] if deadlines else None,
        )

    async def _head_line(self, head: org.Person, away: dict[int, absences.Absence], profile: Profile,
                         now: datetime) -> str:
        """A head on the card; one who is away is named, and his substitute is mentioned (acting)."""
        absence = away.get(head.user_id)
        if absence is None:
            return texts.mention(head.user_id, head.name)
        sub = texts.mention(absence.substitute_id, await self.name(absence.substitute_id))
        return _("{substitute} (и. о.; {head} отсутствует {until})").format(
            substitute=sub, head=escape(texts.person_name(head.name)), until=texts.through(absence.until, profile))

    async def refresh_card(self, conn: aiosqlite.Connection, incident_id: int, now: datetime) -> None:
        row = await store.load(conn, incident_id)
        assert row is not None
        profile = self.profile(row.profile)
        with use(self.language):
            markup = kb.card_keyboard(incident_id, bool(profile.workflow.outcomes)) if row.incident.state.is_open \
                else kb.markup([])
            text = await self.card_text(row, profile, now)
        await enqueue_latest(conn, row.chat_id, "editMessageText", {
            "chat_id": row.chat_id, "message_id": {"$card": incident_id}, "text": text, "reply_markup": markup},
            now, key=f"edit:{incident_id}")

    async def say(self, conn: aiosqlite.Connection, row: store.IncidentRow, text: str, now: datetime,
                   markup: dict[str, Any] | None = None) -> None:
        """A message in the incident's thread (its topic, or a reply to its card), rendered by the caller in
        the group's language."""
        payload: dict[str, Any] = {"chat_id": row.chat_id, "message_thread_id": {"$thread": row.incident.id},
                                   "text": text}
        if row.thread_id is None:
            payload["reply_parameters"] = {"$card": row.incident.id}
        if markup:
            payload["reply_markup"] = markup
        await enqueue(conn, row.chat_id, "sendMessage", payload, now, purpose=f"thread:{row.incident.id}")

    # --- the thread --------------------------------------------------------------------------

    async def thread_message(self, msg: IncomingMessage) -> None:
        """A message in a bound group: an answer, a part, an awaited reply, or discussion."""
        group = await org.group(self.db, msg.chat_id)
        if group is None:
            return
        incident_id = None
        if msg.thread_id:
            incident_id = await store.find_by_thread(self.db, msg.chat_id, msg.thread_id)
        if incident_id is None and msg.reply_to:
            incident_id = await store.find_by_message(self.db, msg.chat_id, msg.reply_to)
        awaited = await store.get_awaited(self.db, msg.user_id, msg.chat_id)
        if awaited and awaited.get("kind") in TEXT_REPLIES and (
                incident_id is None or awaited.get("incident") == incident_id):
            await self._awaited_reply(msg, awaited)
            return
        if incident_id is None:
            return
        row = await store.load(self.db, incident_id)
        if row is None or not row.incident.state.is_open:
            return
        profile = self.profile(row.profile)
        actor = await self.actor(msg.user_id, msg.chat_id)
        inc = row.incident
        now = self.clock.now()
        if inc.lead in actor.departments and inc.state in (State.ASSIGNED, State.REWORK, State.AWAITING_FINAL):
            draft = {"message_id": msg.message_id, "text": msg.text, "author": msg.user_id, "name": msg.user_name,
                     "media": msg.has_media}
            await self._run(row, profile, SubmitDraft(), actor, now, draft=draft)
        elif set(inc.co_executors) & actor.departments and inc.state in (State.ASSIGNED, State.REWORK):
            dep = next(d for d in inc.co_executors if d in actor.departments)
            await self._run(row, profile, SubmitPart(dep), actor, now, part_by=await self.name(msg.user_id))

    async def draft_edited(self, msg: IncomingMessage) -> None:
        """The author edited the message that is the draft: the draft follows."""
        incident_id = await store.find_by_thread(self.db, msg.chat_id, msg.thread_id) if msg.thread_id else None
        if incident_id is None and msg.reply_to:
            incident_id = await store.find_by_message(self.db, msg.chat_id, msg.reply_to)
        row = await store.load(self.db, incident_id) if incident_id else None
        if row is None or row.incident.state is not State.REVIEW or not row.draft:
            return
        if row.draft.get("message_id") != msg.message_id or row.draft.get("author") != msg.user_id:
            return
        now = self.clock.now()
        async with self.db.transaction() as conn:
            await store.set_draft(conn, row.incident.id, {**row.draft, "text": msg.text})
            await store.set_final_text(conn, row.incident.id, None)
            with use(self.language):
                await self.say(conn, row, _("✏️ Автор изменил ответ:") + "\n" + texts.quote(msg.text, 3000), now,
                               kb.review_keyboard(row.incident.id))

    # --- buttons on incidents ----------------------------------------------------------------

    async def press(self, user_id: int, chat_id: int, incident_id: int, action: str, value: int = 0,
                    message_id: int | None = None) -> Reply:
        row = await store.load(self.db, incident_id)
        if row is None or row.chat_id != chat_id:
            return Reply(_("Инцидент не найден."), show_alert=True)
        profile = self.profile(row.profile)
        actor = await self.actor(user_id, row.chat_id)
        now = self.clock.now()
        if action == "pu" and value == 0:  # ask for the link first; "without a link" publishes right away
            check = decide(profile, row.incident, Publish(), actor, now)
            if isinstance(check, Refusal):
                return Reply(check.reason, show_alert=True)
            async with self.db.transaction() as conn:
                await store.put_awaited(conn, user_id, chat_id, {"kind": "pu", "incident": incident_id}, now)
                with use(self.language):
                    await self.say(conn, row, _("Пришлите в эту тему ссылку на опубликованный ответ "
                                                "или нажмите «Без ссылки»."), now,
                                   kb.markup([[kb.button(_("Без ссылки"), kb.IncidentCb(
                                       action="pu", incident=incident_id, value=1))]]))
            return Reply(_("Жду ссылку"))
        simple: dict[str, Command] = {
            "ap": Approve(), "wd": WithdrawDraft(), "pu": Publish(), "pi": Publish(intermediate=True)}
        if action in simple:
            refusal = await self._run(row, profile, simple[action], actor, now, clear_awaited=(user_id, chat_id))
            return Reply(refusal, show_alert=True) if refusal else Reply(_("Готово"))
        prompts = {  # asked in the group: translated there, in the group's language
            "rw": (RequestRework("?"), N_("Напишите в эту тему, что доработать.")),
            "co": (Correct(), N_("Пришлите в эту тему исправленный текст ответа.")),
            "np": (Close(Outcome.NOT_PROCESSED, "?"), N_("Напишите в эту тему, почему сообщение не обрабатывается.")),
            "nc": (ReturnNotCompetent("?"), N_("Напишите в эту тему, почему вопрос не вашей компетенции.")),
        }
        if action in prompts:
            probe, question = prompts[action]
            check = decide(profile, row.incident, probe, actor, now)
            if isinstance(check, Refusal):
                return Reply(check.reason, show_alert=True)
            async with self.db.transaction() as conn:
                await store.put_awaited(conn, user_id, chat_id, {"kind": action, "incident": incident_id}, now)
                with use(self.language):
                    who = texts.mention(user_id, await self.name(user_id))
                    await self.say(conn, row, texts.address(who, _(question)), now)
            return Reply(_("Жду ответа в теме"))
        if action in ("rd", "rs"):
            return await self._reroute_press(row, profile, actor, chat_id, action, value, now, message_id)
        return Reply(_("Кнопка устарела."), show_alert=True)

    async def _awaited_reply(self, msg: IncomingMessage, awaited: dict[str, Any]) -> None:
        row = await store.load(self.db, awaited["incident"])
        now = self.clock.now()
        if row is None:
            async with self.db.transaction() as conn:
                await store.put_awaited(conn, msg.user_id, msg.chat_id, None, now)
            return
        profile = self.profile(row.profile)
        actor = await self.actor(msg.user_id, row.chat_id)
        text = msg.text.strip()
        kind = awaited["kind"]
        if not text:
            return
        if kind == "pu":
            links = msg.links or links_in(text, [])
            if not links:
                await self._remind(msg, row, N_("Это не похоже на ссылку. Пришлите ссылку или нажмите «Без ссылки»."))
                return
            text = links[0]
        command: Command = {
            "rw": RequestRework(text), "co": Correct(), "np": Close(Outcome.NOT_PROCESSED, text),
            "nc": ReturnNotCompetent(text), "pu": Publish(),
        }[kind]
        await self._run(row, profile, command, actor, now, comment=text, clear_awaited=(msg.user_id, msg.chat_id))

    async def _remind(self, msg: IncomingMessage, row: store.IncidentRow, text: str) -> None:
        """Tell the writer in the thread (the group's language) what is missing; text is marked with N_."""
        async with self.db.transaction() as conn:
            with use(self.language):
                who = texts.mention(msg.user_id, await self.name(msg.user_id))
                await self.say(conn, row, texts.address(who, escape(_(text))), self.clock.now())

    async def _reroute_press(self, row: store.IncidentRow, profile: Profile, actor: Actor, chat_id: int,
                             action: str, value: int, now: datetime, message_id: int | None) -> Reply:
        if not may(profile, actor, Action.ROUTE):
            return Reply(_("Направлять может только координатор."), show_alert=True)
        if row.incident.state is not State.NEW:
            return Reply(_("Инцидент уже направлен."), show_alert=True)
        awaited = await store.get_awaited(self.db, actor.user_id, chat_id) or {}
        chosen: list[int] = awaited.get("chosen", []) if awaited.get("kind") == "reroute" else []
        active = {d.id: d.name for d in await org.active_departments(self.db, row.chat_id)}
        if action == "rd":
            if value not in active:
                return Reply(_("Нет такого отдела."), show_alert=True)
            chosen = [d for d in chosen if d != value] if value in chosen else [*chosen, value]
            async with self.db.transaction() as conn:
                await store.put_awaited(conn, actor.user_id, chat_id,
                                        {"kind": "reroute", "incident": row.incident.id, "chosen": chosen}, now)
                if message_id:  # the keyboard shows what is picked, the lead first (★)
                    with use(self.language):
                        keyboard = kb.reroute_keyboard(row.incident.id, list(active.items()), chosen)
                    await enqueue_latest(conn, chat_id, "editMessageReplyMarkup", {
                        "chat_id": chat_id, "message_id": message_id, "reply_markup": keyboard},
                        now, key=f"reroute:{row.incident.id}:{message_id}")
            return Reply(_("Выбрано: {count}").format(count=len(chosen)))
        if not chosen or any(d not in active for d in chosen):
            return Reply(_("Выберите отделы на клавиатуре."), show_alert=True)
        refusal = await self._run(row, profile, Route(tuple(chosen)), actor, now,
                                  clear_awaited=(actor.user_id, chat_id))
        return Reply(refusal, show_alert=True) if refusal else Reply(_("Направлено"))

    # --- running a command and announcing it -------------------------------------------------

    async def _run(self, row: store.IncidentRow, profile: Profile, command: Command, actor: Actor, now: datetime,
                   *, draft: dict[str, Any] | None = None, comment: str = "", part_by: str = "",
                   clear_awaited: tuple[int, int] | None = None) -> str | None:
        async with self.db.transaction() as conn:
            if clear_awaited:
                await store.put_awaited(conn, *clear_awaited, None, now)
            # decided on the incident as it is inside the transaction: two quick presses never both pass
            current = await store.load(conn, row.incident.id)
            assert current is not None
            decision = decide(profile, current.incident, command, actor, now)
            if isinstance(decision, Refusal):
                return decision.reason
            reason = comment if isinstance(command, Close) else None
            await store.save(conn, profile, decision.incident, now, decision.stopped, reason,
                             plan=notice_plan(profile, decision.incident, now))
            department = command.department_id if isinstance(command, SubmitPart) else None
            await store.log_events(conn, row.incident.id, decision.events, now, actor.user_id, department)
            if draft is not None:
                await store.set_draft(conn, row.incident.id, draft)
                await store.set_final_text(conn, row.incident.id, None)
            if isinstance(command, Correct):
                await store.set_final_text(conn, row.incident.id, comment)
            if isinstance(command, Publish) and comment:
                await store.set_published_link(conn, row.incident.id, comment)
            fresh = await store.load(conn, row.incident.id)
            assert fresh is not None
            with use(self.language):  # told in the group; a refusal above is the presser's
                await self._announce(conn, fresh, profile, command, decision, actor, now, comment, part_by)
            await self.refresh_card(conn, row.incident.id, now)
        return None

    async def _announce(self, conn: aiosqlite.Connection, row: store.IncidentRow, profile: Profile,
                        command: Command, decision: Decision, actor: Actor, now: datetime, comment: str,
                        part_by: str) -> None:
        inc = row.incident
        who = texts.mention(actor.user_id, await self.name(actor.user_id))
        deadlines = [texts.deadline_line(t, profile, inc.track, now) for t in decision.started if t.paused_at is None]
        match command:
            case SubmitDraft():
                draft_text = (row.draft or {}).get("text", "")
                await self.say(conn, row, texts.lines(
                    _("📝 Ответ от {who} на проверке:").format(who=who), texts.quote(draft_text, 3000) or _("(медиа)"),
                    *deadlines,
                    await self._reviewers(profile, inc, row.chat_id)), now, kb.review_keyboard(inc.id))
            case SubmitPart():
                await self.say(conn, row, _("🧩 Часть ответа от {who} получена.").format(who=escape(part_by)), now)
            case Approve() if inc.state is State.APPROVED:
                final = row.final_text or (row.draft or {}).get("text", "")
                await self.say(conn, row, texts.lines(_("✅ Согласовано. Текст для размещения:"), *deadlines), now)
                for chunk in texts.split_plain(final or _("(без текста)")):
                    await self.say(conn, row, escape(chunk), now)
                await self.say(conn, row, _("После размещения нажмите кнопку."), now,
                                kb.publish_keyboard(inc.id, profile.workflow.intermediate_answers))
            case Approve():
                step = profile.approval[inc.step]
                await self.say(conn, row, texts.lines(_("✅ Этап согласован. Дальше: {step}.").format(
                    step=escape(step.title)),
                                                       await self._reviewers(profile, inc, row.chat_id)), now,
                                kb.review_keyboard(inc.id))
            case RequestRework():
                heads = [texts.mention(p.user_id, p.name) for p in await self.heads(inc.lead or 0, row.chat_id)]
                await self.say(conn, row, texts.lines(
                    _("↩️ {heads}, ответ возвращён на доработку:").format(heads=", ".join(heads) or _("Исполнитель")),
                    texts.quote(comment, 3000), *deadlines), now)
            case Correct():
                await self.say(conn, row, texts.lines(_("✏️ Исправленный текст:"), texts.quote(comment, 3000)), now,
                                kb.review_keyboard(inc.id))
            case WithdrawDraft():
                await self.say(conn, row, texts.lines(_("🗑 {who} отозвал ответ.").format(who=who), *deadlines), now)
            case Publish(intermediate=True):
                await self.say(conn, row, texts.lines(_("⏳ Промежуточный ответ размещён."), *deadlines), now)
            case Publish():
                link = f"\n🔗 {escape(comment)}" if comment else ""
                await self.say(conn, row, _("📤 Ответ размещён. Инцидент №{number} закрыт.").format(number=inc.id)
                               + link, now)
                if row.thread_id:
                    await enqueue(conn, row.chat_id, "closeForumTopic",
                                  {"chat_id": row.chat_id, "message_thread_id": row.thread_id}, now)
            case Close():
                await self.say(conn, row, _("⛔ Закрыт: {outcome}. Причина: {reason}").format(
                    outcome=escape(texts.outcome_title(inc.outcome)), reason=escape(comment)), now)
                if row.thread_id:
                    await enqueue(conn, row.chat_id, "closeForumTopic",
                                  {"chat_id": row.chat_id, "message_thread_id": row.thread_id}, now)
            case ReturnNotCompetent():
                departments = [(d.id, d.name) for d in await org.active_departments(self.db, row.chat_id)]
                coordinators = [texts.mention(p.user_id, p.name)
                                for p in await self.with_role(row.chat_id, *profile.roles_with(Action.ROUTE))]
                await self.say(conn, row, texts.lines(
                    _("🚫 {who}: не наша компетенция.").format(who=who), texts.quote(comment, 1000),
                    _("{coordinators}, выберите отделы и нажмите «Направить».").format(
                        coordinators=", ".join(coordinators) or _("Координатор"))),
                    now, kb.reroute_keyboard(inc.id, departments, []))
            case Route():
                await self.say(conn, row, texts.lines(_("📨 Направлено заново."), *deadlines), now)

    async def _reviewers(self, profile: Profile, inc: Any, chat_id: int) -> str | None:
        """Mentions of whoever decides on the current approval step, so their phone rings."""
        step = profile.approval[inc.step] if profile.approval else None
        if step is None:
            return None
        roles = [step.role, *(r for r, spec in profile.roles.items() if spec.acts_for == step.role)]
        people = {p.user_id: p for p in await self.with_role(chat_id, *roles)}
        if not people:
            return None
        return _("Проверяет: {who}").format(who=", ".join(texts.mention(p.user_id, p.name) for p in people.values()))

    async def name(self, user_id: int) -> str:
        person = await org.person(self.db, user_id)
        return texts.person_name(person.name) if person else str(user_id)


# --- pure helpers --------------------------------------------------------------------------------


def notice_plan(profile: Profile, incident: Any, now: datetime) -> Any:
    """For storage: a new or changed timer's first notice after now."""
    def plan(timer: Any) -> datetime | None:
        return notices.first_after(profile, profile.timer(timer.timer_id, incident.track), timer, now)
    return plan


def propose_source(profile: Profile, forward: dict[str, Any] | None,
                   links: Iterable[str]) -> tuple[str | None, str]:
    """A source from the forward's channel, else from a link's domain; None when neither says."""
    if forward and forward.get("username"):
        username = forward["username"].lower().lstrip("@")
        for s in profile.sources:
            if username in (c.lower().lstrip("@") for c in s.channels):
                return s.id, _("пересылка из @{channel}").format(channel=username)
    for link in links:
        host = (urlparse(link).hostname or "").lower()
        for s in profile.sources:
            if any(host == d or host.endswith("." + d) for d in s.domains):
                return s.id, _("по ссылке {host}").format(host=host)
    return None, ""


_TIME = re.compile(r"^\s*(?:(\d{1,2})\.(\d{1,2})(?:\.(\d{2,4}))?\s+)?(\d{1,2})[:.](\d{2})\s*$")


def parse_local_time(text: str, profile: Profile, now: datetime) -> datetime | None:
    """'09:40' (today) or '23.11 09:40' or '23.11.2026 09:40', local to the profile."""
    m = _TIME.match(text)
    if not m:
        return None
    today = now.astimezone(profile.tz)
    day, month, year, hour, minute = m.groups()
    try:
        base = today.replace(
            year=(int(year) + (2000 if len(year) == 2 else 0)) if year else today.year,
            month=int(month) if month else today.month, day=int(day) if day else today.day,
            hour=int(hour), minute=int(minute), second=0, microsecond=0)
    except ValueError:
        return None
    return base


def links_in(text: str, entities_urls: list[str]) -> tuple[str, ...]:
    found = [*entities_urls, *URL.findall(text or "")]
    return tuple(dict.fromkeys(u.rstrip(").,;") for u in found))


