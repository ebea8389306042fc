"""Intake: a message forwarded to the bot becomes a panel (source, detection time, departments), then an
incident in its group — routed by the coordinator, or passed to whoever routes when he may not."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from html import escape
from typing import Any
from urllib.parse import urlparse

import aiosqlite

from bot import keyboards as kb
from bot import texts
from bot.context import Context, IncomingMessage, Reply, notice_plan
from bot.i18n import _, lower_first, use
from bot.workflow import (
    Decision,
    Refusal,
    Route,
    decide,
    may,
    open_incident,
)
from bot.workflow.actions import Place
from profiles.events import Action
from profiles.schema import Profile
from storage import incidents as store
from storage import org
from storage.db import from_db, to_db
from storage.outbox import enqueue, enqueue_latest

URL = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
ORIGINAL_LIMIT = 10


class Intake(Context):
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
        if awaited and awaited.get("kind") == "intake_repeat":
            return await self._intake_repeat(msg, now)
        async with self.db.transaction() as conn:
            data = await store.get_intake(conn, msg.user_id)
            if data and msg.media_group_id and data.get("media_group_id") == msg.media_group_id:
                data["messages"].append(msg.message_id)
                data["text"] = data["text"] or msg.text
                await store.put_intake(conn, msg.user_id, data, now)
                return None
            if data and continues(data, msg):  # Telegram's split of a long text, or a caption then its text
                group = await org.group(self.db, data["group"])
                if group is not None:
                    profile = self.profile(group.profile)
                    merge(data, msg, profile)
                    await store.put_intake(conn, msg.user_id, data, now)
                    # the panel may be on its way: the edit follows it in the chat's queue, addressed to it
                    await self._send_panel(conn, profile, msg.chat_id, data, now, edit_message={"$panel": msg.user_id})
                    return None
            # the group of the previous message, if still his; else the first (a button switches)
            previous = data.get("group") if data else None
            group = next((g for g in mine if g.chat_id == previous), mine[0])
            profile = self.profile(group.profile)
            data = self._new_intake(profile, msg, group.chat_id)
            data["groups"] = [g.chat_id for g in mine]
            if profile.workflow.repeats:  # the same link as an earlier incident: proposed as its repeat
                data["repeat_of"] = await store.earlier_with_link(self.db, group.chat_id, list(msg.links))
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
            "departments": [], "last_at": to_db(msg.date),
        }

    async def _send_panel(self, conn: aiosqlite.Connection, profile: Profile, chat_id: int, data: dict[str, Any],
                          now: datetime, edit_message: int | dict[str, int] | None = None) -> None:
        routes = may(profile, await self.actor(data["owner"], data["group"]), Action.ROUTE)
        departments = [(d.id, d.name) for d in await org.active_departments(self.db, data["group"])] if routes else []
        group = await org.group(self.db, data["group"])
        text = self._panel_text(profile, data, departments, now, group.title if group else "")
        if not routes:  # he sends it on; whoever routes picks the departments in the group
            routers = ", ".join(lower_first(profile.roles[r].title) for r in profile.roles_with(Action.ROUTE))
            text = texts.lines(text, _("Отделы выберет: {who}.").format(who=escape(routers)))
        several = len(data.get("groups", ())) > 1
        markup = kb.intake_keyboard(profile, data["source"], departments, data["departments"],
                                    bool(data.get("significant")), group.title if group and several else None,
                                    data.get("repeat_of"), not data.get("not_repeat"),
                                    repeats=profile.workflow.repeats is not None)
        if edit_message:
            await enqueue_latest(conn, chat_id, "editMessageText",
                                 {"chat_id": chat_id, "message_id": edit_message, "text": text, "reply_markup": markup},
                                 now, key=f"panel-edit:{data['owner']}")
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
            route = profile.routing_timer(src.track)
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
            _("Исполнители: {departments}").format(departments=deps) if departments else None,
            _("Первый выбранный отдел — ответственный (★).") if len(chosen) > 1 else None,
            _("❗ Общественно значимое: контролёр получит его сразу.") if data.get("significant") else None,
            _("🔁 Повтор инцидента №{number} ({clause})").format(
                number=data["repeat_of"], clause=escape(profile.workflow.repeats.clause))
            if data.get("repeat_of") and not data.get("not_repeat") and profile.workflow.repeats else None,
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
            elif action == "rep" and data.get("repeat_of"):
                data["not_repeat"] = not data.get("not_repeat")
            elif action == "rep":  # no earlier incident with its link: the coordinator names it
                await store.put_awaited(conn, user_id, chat_id, {"kind": "intake_repeat"}, now)
                await enqueue(conn, chat_id, "sendMessage", {
                    "chat_id": chat_id, "text": _("Пришлите номер инцидента, который повторяет это сообщение: "
                                                  "<code>12</code>.")}, now)
                return Reply()
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

    async def _intake_repeat(self, msg: IncomingMessage, now: datetime) -> str | None:
        """The number of the earlier incident this message repeats, typed by the coordinator."""
        data = await store.get_intake(self.db, msg.user_id)
        group = await org.group(self.db, data["group"]) if data else None
        if data is None or group is None:
            async with self.db.transaction() as conn:
                await store.put_awaited(conn, msg.user_id, msg.chat_id, None, now)
            return _("Черновик не найден: перешлите сообщение ещё раз.")
        number = msg.text.strip().lstrip("№#").strip()
        earlier = await store.load(self.db, int(number)) if number.isdigit() and len(number) < 10 else None
        if earlier is None or earlier.chat_id != group.chat_id:
            return _("В группе «{group}» нет инцидента с таким номером. Пришлите номер, например 12.").format(
                group=escape(group.title))
        profile = self.profile(group.profile)
        async with self.db.transaction() as conn:
            await store.put_awaited(conn, msg.user_id, msg.chat_id, None, now)
            data["repeat_of"], data["not_repeat"] = earlier.incident.id, False
            await store.put_intake(conn, msg.user_id, data, now)
            await self._send_panel(conn, profile, msg.chat_id, data, now)
        return None

    async def _send_intake(self, conn: aiosqlite.Connection, profile: Profile, group: org.Group, user_id: int,
                           data: dict[str, Any], panel_id: int, now: datetime) -> str | None:
        if not data["source"]:
            return _("Выберите источник.")
        actor = await self.actor(user_id, group.chat_id)
        routes = may(profile, actor, Action.ROUTE)  # else whoever routes picks the departments in the group
        if routes and not data["departments"]:
            return _("Выберите хотя бы один отдел.")
        detected = from_db(data["detected_at"]) or now
        incident_id = await store.next_id(conn)
        opened = open_incident(profile, incident_id, data["source"], detected, now)
        routed = decide(profile, opened.incident, Route(tuple(data["departments"])), actor, now) if routes \
            else Decision(opened.incident, ())
        if isinstance(routed, Refusal):
            return routed.reason
        await store.insert(conn, opened.incident, chat_id=group.chat_id, profile=profile.id, source=data["source"],
                           text=data["text"], link=data["link"], origin=data["origin"], detected_at=detected,
                           created_by=user_id, now=now, significant=bool(data.get("significant")),
                           repeat_of=None if data.get("not_repeat") else data.get("repeat_of"))
        await store.save(conn, profile, routed.incident, now, opened.stopped + routed.stopped,
                         plan=notice_plan(profile, routed.incident, now))
        await store.log_events(conn, incident_id, opened.events, detected, user_id)
        await store.log_events(conn, incident_id, routed.events, now, user_id)
        row = await store.load(conn, incident_id)
        assert row is not None
        if group.is_forum:
            await enqueue(conn, group.chat_id, "createForumTopic",
                          {"chat_id": group.chat_id, "name": await self.topic_name(row, profile)}, now,
                          purpose=f"topic:{incident_id}")
        with use(self.language):  # the card is the group's
            await enqueue(conn, group.chat_id, "sendMessage", {
                "chat_id": group.chat_id, "message_thread_id": {"$thread": incident_id},
                "text": await self.card_text(row, profile, now),
                "reply_markup": self.keyboard(row, Place.CARD, now)},
                now, purpose=f"card:{incident_id}")
            if not routes:
                await self.say(conn, row, await self._route_request(profile, row, now), now,
                               await self._route_keyboard(row))
        if row.significant:
            await self._report_significant(conn, row, profile, now)
        await self._report_surge(conn, row, profile, now)
        ids = data["messages"][:ORIGINAL_LIMIT]
        # a forwarded post is forwarded on, so the topic shows «Переслано от …»; a typed one is copied
        await enqueue(conn, group.chat_id, "forwardMessages" if data.get("origin") else "copyMessages", {
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

    async def _report_surge(self, conn: aiosqlite.Connection, row: store.IncidentRow, profile: Profile,
                            now: datetime) -> None:
        """Several messages on one issue within the profile's window: reported at once, as a significant one
        (Первомайский р-н п. 24). Told when the count is reached, not again for each further message."""
        surge = profile.workflow.surge
        if surge is None:
            return
        same = await store.same_issue_since(conn, row.incident.id, now - surge.window)
        if len(same) != surge.count:
            return
        for person in await self.with_role(row.chat_id, *profile.roles_with(Action.ESCALATIONS)):
            with use(await self.language_of(person.user_id)):
                text = texts.lines(
                    _("📈 <b>Повышенная активность</b>: {messages} по одному вопросу за {window} ({clause})").format(
                        messages=texts.plural(len(same), "сообщение", "сообщения", "сообщений"),
                        window=texts.span(surge.window), clause=escape(surge.clause)),
                    _("Инциденты: {numbers}").format(numbers=", ".join(f"№{i}" for i in same)),
                    texts.quote(row.text, 1000), f"🔗 {escape(row.link)}" if row.link else None)
            await enqueue(conn, person.user_id, "sendMessage", {"chat_id": person.user_id, "text": text}, now)


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


MERGE_WITHIN = timedelta(seconds=3)  # consecutive messages closer than this are one post


def continues(data: dict[str, Any], msg: IncomingMessage) -> bool:
    """The message goes on the coordinator's previous one: Telegram split a pasted text over 4096 characters
    into messages sent within a second or two, or a caption came before its text."""
    last = from_db(data.get("last_at"))
    return (last is not None and data.get("chat_id") == msg.chat_id and not data.get("departments")
            and not msg.media_group_id and timedelta(0) <= msg.date - last <= MERGE_WITHIN)


def merge(data: dict[str, Any], msg: IncomingMessage, profile: Profile) -> None:
    """One post from its parts, in order, nothing dropped; the source is proposed again from all its links."""
    data["messages"].append(msg.message_id)
    data["text"] = "\n".join(t for t in (data["text"], msg.text) if t)
    data["links"] = list(dict.fromkeys([*data.get("links", []), *msg.links]))
    data["link"] = data.get("link") or (msg.links[0] if msg.links else None)
    data["last_at"] = to_db(msg.date)
    if data.get("source_reason") != _("выбран вручную"):
        source, reason = propose_source(profile, data.get("origin"), data["links"])
        if source:
            data["source"], data["source_reason"] = source, reason


def links_in(text: str, entities_urls: list[str]) -> tuple[str, ...]:
    found = [*entities_urls, *URL.findall(text or "")]
    return tuple(dict.fromkeys(u.rstrip(").,;") for u in found))

