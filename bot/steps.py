"""Steps on an incident: answers and parts written in its thread, buttons pressed, replies to the bot's
questions. What may be done comes from the workflow core (bot/workflow/actions.py); this module asks,
runs the step in one transaction and tells the group."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

import aiosqlite

from bot import keyboards as kb
from bot import texts
from bot.cards import checked_of
from bot.context import Context, IncomingMessage, Reply, notice_plan
from bot.i18n import N_, _, use
from bot.intake import links_in
from bot.workflow import (
    AcceptPart,
    Actor,
    Approve,
    ClarificationReceived,
    Close,
    Command,
    Correct,
    Decision,
    Incident,
    NeedExplanation,
    Publish,
    Refusal,
    RequestClarification,
    RequestRework,
    ReturnNotCompetent,
    Route,
    State,
    SubmitDraft,
    SubmitPart,
    WithdrawDraft,
    actions,
    decide,
)
from bot.workflow.actions import Needs, Offer, Place
from bot.workflow.core import Tick, joint_answer
from profiles.events import Outcome, Step
from profiles.schema import Profile
from storage import incidents as store
from storage import org
from storage.outbox import URGENT, enqueue, enqueue_latest


class Steps(Context):
    # --- the thread --------------------------------------------------------------------------

    async def thread_message(self, msg: IncomingMessage) -> None:
        """A message in a bound group: an answer or a part (whichever step the core lets the writer take),
        a reply the bot asked for, or discussion."""
        group = await org.group(self.db, msg.chat_id)
        if group is None:
            return
        incident_id = await self._incident_of(msg)
        awaited = await store.get_awaited(self.db, msg.user_id, msg.chat_id)
        if awaited and awaited.get("kind") == AWAITED_STEP and (
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
        parts = [SubmitPart(d) for d in inc.departments if d in actor.departments]
        for command in (SubmitDraft(), *parts):
            if isinstance(decide(profile, inc, command, actor, now), Refusal):
                continue
            if isinstance(command, SubmitDraft):
                draft = {"message_id": msg.message_id, "text": msg.text, "author": msg.user_id,
                         "name": msg.user_name, "media": msg.has_media}
                await self._run(row, profile, command, actor, now, draft=draft)
            else:
                await self._run(row, profile, command, actor, now, comment=msg.text)
            return

    async def _incident_of(self, msg: IncomingMessage) -> int | None:
        incident_id = await store.find_by_thread(self.db, msg.chat_id, msg.thread_id) if msg.thread_id else None
        if incident_id is None and msg.reply_to:
            incident_id = await store.find_by_message(self.db, msg.chat_id, msg.reply_to)
        return incident_id

    async def draft_edited(self, msg: IncomingMessage) -> None:
        """The author edited the message that is the draft: the draft follows, the ticks start afresh."""
        incident_id = await self._incident_of(msg)
        row = await store.load(self.db, incident_id) if incident_id else None
        if row is None or row.incident.state is not State.REVIEW or not row.draft:
            return
        if row.draft.get("message_id") != msg.message_id or row.draft.get("author") != msg.user_id:
            return
        now = self.clock.now()
        async with self.db.transaction() as conn:
            await store.set_draft(conn, row.incident.id, {**row.draft, "text": msg.text, "checked": []})
            await store.set_final_text(conn, row.incident.id, None)
            await self.retire_review(conn, row, now)
            with use(self.language):
                await self.say(conn, row, _("✏️ Автор изменил ответ:") + "\n" + texts.quote(msg.text, 3000), now,
                               self.keyboard(row, Place.REVIEW, now), review=True)

    # --- buttons on incidents ----------------------------------------------------------------

    async def press(self, user_id: int, chat_id: int, incident_id: int, action: str, value: int = 0,
                    message_id: int | None = None) -> Reply:
        """A button under an incident's message: the step it stands for, if the profile offers it now, and
        if the presser may take it; a step that needs text asks for it in the thread."""
        row = await store.load(self.db, incident_id)
        if row is None or row.chat_id != chat_id:
            return Reply(_("Инцидент не найден."), show_alert=True)
        if action in (REROUTE_TOGGLE, REROUTE_SEND):
            return await self._reroute_press(row, user_id, chat_id, action, value, message_id)
        profile = self.profile(row.profile)
        actor = await self.actor(user_id, row.chat_id)
        now = self.clock.now()
        without_link = action == Step.PUBLISH and value == WITHOUT_LINK
        value = 0 if without_link else value
        # the step as offered now; else as pressed, so that the core says why not (or the button is stale)
        offer = actions.find(profile, row.incident, action, value, checked_of(row)) or actions.bare(action, value)
        command = actions.command_for(profile, offer, actions.PLACEHOLDER, checked_of(row)) if offer else None
        check = decide(profile, row.incident, command, actor, now) if command else Refusal(_("Кнопка устарела."))
        if isinstance(check, Refusal):
            return Reply(check.reason, show_alert=True)
        assert offer is not None
        if offer.step is Step.TICK:
            return await self._tick(row, profile, offer, actor, now, message_id)
        if offer.needs in (Needs.TEXT, Needs.LINK) and not without_link:
            return await self._ask(row, offer, user_id, chat_id, now)
        if offer.step is Step.ROUTE:
            return Reply(_("Выберите отделы на клавиатуре в теме."), show_alert=True)
        refusal = await self._run(row, profile, command, actor, now, clear_awaited=(user_id, chat_id))
        return Reply(refusal, show_alert=True) if refusal else Reply(_("Готово"))

    async def _ask(self, row: store.IncidentRow, offer: Offer, user_id: int, chat_id: int, now: datetime) -> Reply:
        """The step needs words: ask for them in the thread; the presser's next message there is the answer."""
        async with self.db.transaction() as conn:
            await store.put_awaited(conn, user_id, chat_id, {
                "kind": AWAITED_STEP, "step": offer.step.value, "value": offer.value, "incident": row.incident.id},
                now)
            with use(self.language):
                profile = self.profile(row.profile)
                prompt = texts.in_thread(actions.words(profile, offer.step, _outcome(profile, offer))[1],
                                         topic=row.thread_id is not None)
                markup = kb.markup([[kb.button(_("Без ссылки"), kb.IncidentCb(
                    action=Step.PUBLISH.value, incident=row.incident.id, value=WITHOUT_LINK))]]) \
                    if offer.needs is Needs.LINK else None
                await self.say(conn, row, texts.address(texts.mention(user_id, await self.name(user_id)), prompt),
                               now, markup, priority=URGENT)
        return Reply(_("Жду ответа в теме") if row.thread_id is not None else _("Жду ответа здесь"))

    async def _tick(self, row: store.IncidentRow, profile: Profile, offer: Offer, actor: Actor, now: datetime,
                    message_id: int | None) -> Reply:
        """A checklist item ticked or unticked on the review message; the ticks belong to this draft."""
        async with self.db.transaction() as conn:
            current = await store.load(conn, row.incident.id)
            assert current is not None
            checked = checked_of(current)
            decision = decide(profile, current.incident, Tick(offer.value, checked), actor, now)
            if isinstance(decision, Refusal):
                return Reply(decision.reason, show_alert=True)
            item = profile.approval[current.incident.step].checklist[offer.value]
            checked = checked - {item} if item in checked else checked | {item}
            await store.set_draft(conn, row.incident.id, {**(current.draft or {}), "checked": sorted(checked)})
            await store.log_events(conn, row.incident.id, decision.events, now, actor.user_id)
            if message_id:
                fresh = await store.load(conn, row.incident.id)
                assert fresh is not None
                with use(self.language):
                    markup = self.keyboard(fresh, Place.REVIEW, now)
                await enqueue_latest(conn, row.chat_id, "editMessageReplyMarkup", {
                    "chat_id": row.chat_id, "message_id": message_id, "reply_markup": markup},
                    now, key=f"ticks:{row.incident.id}:{message_id}")
        return Reply(("☑ " if item in checked else "☐ ") + item)

    async def _awaited_reply(self, msg: IncomingMessage, awaited: dict[str, Any]) -> None:
        """The words a step asked for: a comment, a reason, a question, the author's reply, a link."""
        row = await store.load(self.db, awaited["incident"])
        now = self.clock.now()
        if row is None:
            async with self.db.transaction() as conn:
                await store.put_awaited(conn, msg.user_id, msg.chat_id, None, now)
            return
        profile = self.profile(row.profile)
        actor = await self.actor(msg.user_id, row.chat_id)
        text = msg.text.strip()
        if not text:
            return
        offer = actions.find(profile, row.incident, awaited.get("step", ""), awaited.get("value", 0), checked_of(row))
        if offer is None:  # the incident moved on meanwhile
            async with self.db.transaction() as conn:
                await store.put_awaited(conn, msg.user_id, msg.chat_id, None, now)
            await self._remind(msg, row, N_("Этот шаг уже недоступен: инцидент изменился."))
            return
        if offer.needs is Needs.LINK:
            links = msg.links or links_in(text, [])
            if not links:
                await self._remind(msg, row, N_("Это не похоже на ссылку. Пришлите ссылку или нажмите «Без ссылки»."))
                return
            text = links[0]
        command = actions.command_for(profile, offer, text, checked_of(row))
        if command is None:
            return
        refusal = await self._run(row, profile, command, actor, now, comment=text,
                                  clear_awaited=(msg.user_id, msg.chat_id))
        if refusal:
            await self._remind(msg, row, refusal, translated=True)

    async def _remind(self, msg: IncomingMessage, row: store.IncidentRow, text: str, translated: bool = False) -> None:
        """Tell the writer in the thread (the group's language) what is missing; text is marked with N_."""
        async with self.db.transaction() as conn:
            with use(self.language):
                await self.say(conn, row, texts.address(texts.mention(msg.user_id, await self.name(msg.user_id)),
                                                          escape(text if translated else _(text))), self.clock.now(),
                               priority=URGENT)

    async def _reroute_press(self, row: store.IncidentRow, user_id: int, chat_id: int, action: str, value: int,
                             message_id: int | None) -> Reply:
        """The department picker of an incident waiting to be routed (sent by someone who may not route, or
        returned as not competent)."""
        profile = self.profile(row.profile)
        actor = await self.actor(user_id, chat_id)
        now = self.clock.now()
        probe = decide(profile, row.incident, Route((value or -1,)), actor, now)
        if isinstance(probe, Refusal):
            return Reply(probe.reason, show_alert=True)
        awaited = await store.get_awaited(self.db, actor.user_id, chat_id) or {}
        chosen: list[int] = awaited.get("chosen", []) if awaited.get("kind") == "reroute" else []
        active = {d.id: d.name for d in await org.active_departments(self.db, row.chat_id)}
        if action == REROUTE_TOGGLE:
            if value not in active:
                return Reply(_("Нет такого отдела."), show_alert=True)
            chosen = [d for d in chosen if d != value] if value in chosen else [*chosen, value]
            async with self.db.transaction() as conn:
                await store.put_awaited(conn, actor.user_id, chat_id,
                                        {"kind": "reroute", "incident": row.incident.id, "chosen": chosen}, now)
                if message_id:  # the keyboard shows what is picked, the lead first (★)
                    with use(self.language):
                        keyboard = kb.reroute_keyboard(row.incident.id, list(active.items()), chosen,
                                                       actions.words(profile, Step.ROUTE)[0])
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
                   *, draft: dict[str, Any] | None = None, comment: str = "",
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
            department = command.department_id if isinstance(command, SubmitPart | AcceptPart) else None
            await store.log_events(conn, row.incident.id, decision.events, now, actor.user_id, department)
            if draft is not None:
                await store.set_draft(conn, row.incident.id, draft)
                await store.set_final_text(conn, row.incident.id, None)
            if isinstance(command, Correct):
                await store.set_final_text(conn, row.incident.id, comment)
            if isinstance(command, Publish) and comment:
                await store.set_published_link(conn, row.incident.id, comment)
            if isinstance(command, Approve | RequestRework) and row.draft:
                await store.set_draft(conn, row.incident.id, {**(current.draft or {}), "checked": []})
            fresh = await store.load(conn, row.incident.id)
            assert fresh is not None
            if current.incident.state in (State.REVIEW, State.APPROVED):  # decided or superseded: old buttons go
                await self.retire_review(conn, fresh, now)
            with use(self.language):  # told in the group; a refusal above is the presser's
                await self._announce(conn, fresh, profile, command, decision, actor, now, comment)
            await self.refresh_card(conn, row.incident.id, now)
            if current.incident.state.is_open and not fresh.incident.state.is_open:
                await self._close_topic(conn, fresh, now)  # last: the card shows the outcome before the topic closes
        return None

    async def _announce(self, conn: aiosqlite.Connection, row: store.IncidentRow, profile: Profile,
                        command: Command, decision: Decision, actor: Actor, now: datetime, comment: str) -> None:
        """What the group is told after a step: who did what, what is due next and from whom (mentioned, so
        their phones ring), with the buttons of the next step."""
        inc = row.incident
        who = texts.mention(actor.user_id, await self.name(actor.user_id))
        deadlines = [texts.deadline_line(t, profile, inc.track, now, department=await self._department_name(
            t.department_id) if t.department_id is not None else None)
            for t in decision.started if t.paused_at is None]
        match command:
            case SubmitDraft():
                draft_text = (row.draft or {}).get("text", "")
                await self.say(conn, row, texts.lines(
                    _("📝 Ответ на проверке ({who}):").format(who=who), texts.quote(draft_text, 3000) or _("(медиа)"),
                    *deadlines, await self._reviewers(profile, inc, row.chat_id)),
                    now, self.keyboard(row, Place.REVIEW, now), review=True)
            case SubmitPart(dep):
                accept = self.keyboard(row, Place.PART, now)
                accepters = await self._mentions(row.chat_id, actions.who_may(
                    profile, Offer(Step.ACCEPT_PART, dep), inc, now)) if accept["inline_keyboard"] else None
                await self.say(conn, row, texts.lines(
                    _("🧩 Часть ответа ({who}, {department}):").format(
                        who=who, department=escape(await self._department_name(dep))),
                    texts.quote(comment, 3000) if comment else None,
                    _("Принять и передать ответственному: {who}").format(who=accepters) if accepters else None,
                    *deadlines), now, accept if accept["inline_keyboard"] else None)
            case AcceptPart(dep):
                lead = await self._mentions_heads(inc.lead, row.chat_id)
                await self.say(conn, row, texts.lines(
                    _("✅ Часть отдела «{department}» принята и передана ответственному исполнителю.").format(
                        department=escape(await self._department_name(dep))),
                    _("Ответственный: {who}").format(who=lead) if lead else None, *deadlines), now)
            case Approve() if inc.state is State.APPROVED:
                final = row.final_text or (row.draft or {}).get("text", "")
                await self.say(conn, row, texts.lines(
                    _("✅ Согласовано. Текст для размещения — ниже, отдельным сообщением."), *deadlines,
                    await self._publishers(profile, inc, row.chat_id, now)), now)
                chunks = texts.split_plain(final or _("(без текста)"))
                for chunk in chunks[:-1]:
                    await self.say(conn, row, escape(chunk), now)
                await self.say(conn, row, escape(chunks[-1]), now, self.keyboard(row, Place.PUBLISH, now), review=True)
            case Approve():
                step = profile.approval[inc.step]
                await self.say(conn, row, texts.lines(
                    _("✅ Этап согласован. Дальше: {step}.").format(step=escape(step.title)), *deadlines,
                    await self._reviewers(profile, inc, row.chat_id)), now, self.keyboard(row, Place.REVIEW, now),
                    review=True)
            case RequestRework():
                heads = await self._answerers(profile, inc, row.chat_id)
                await self.say(conn, row, texts.lines(
                    texts.address(heads or _("Исполнитель"), _("ответ возвращён на доработку:")),
                    texts.quote(comment, 3000), *deadlines), now)
            case Correct():
                place = Place.REVIEW if inc.state is State.REVIEW else Place.PUBLISH
                await self.say(conn, row, texts.lines(_("✏️ Исправленный текст:"), texts.quote(comment, 3000)), now,
                               self.keyboard(row, place, now), review=True)
            case WithdrawDraft():
                await self.say(conn, row, texts.lines(_("🗑 Ответ отозван ({who}).").format(who=who), *deadlines), now)
            case Publish(intermediate=True):
                await self.say(conn, row, texts.lines(_("⏳ Промежуточный ответ размещён."), *deadlines,
                                                      await self._answerers(profile, inc, row.chat_id)), now)
            case Publish():
                link = f"\n🔗 {escape(comment)}" if comment else ""
                await self.say(conn, row, _("📤 Ответ размещён. Инцидент №{number} закрыт.").format(number=inc.id)
                               + link, now)
            case Close():
                await self.say(conn, row, _("⛔ Закрыт: {outcome}. Причина: {reason}").format(
                    outcome=escape(texts.outcome_title(inc.outcome)), reason=escape(comment)), now)
            case ReturnNotCompetent():
                await self.say(conn, row, texts.lines(
                    _("🚫 {who}: не наша компетенция.").format(who=who), texts.quote(comment, 1000),
                    await self._route_request(profile, row, now), *deadlines), now, await self._route_keyboard(row))
            case Route():
                if row.thread_id:  # the topic's name follows the department
                    await enqueue(conn, row.chat_id, "editForumTopic", {
                        "chat_id": row.chat_id, "message_thread_id": row.thread_id,
                        "name": await self.topic_name(row, profile)}, now)
                await self.say(conn, row, texts.lines(
                    _("📨 Направлено: {departments}").format(departments=escape(", ".join(
                        [await self._department_name(d) for d in inc.departments]))),
                    await self._answerers(profile, inc, row.chat_id), *deadlines), now)
            case RequestClarification():
                await self.say(conn, row, texts.lines(
                    _("❓ Автору задан вопрос ({who}):").format(who=who), texts.quote(comment, 1000),
                    _("Сроки приостановлены до ответа автора.") if decision.paused else None), now)
            case ClarificationReceived(answered=True):
                await self.say(conn, row, texts.lines(
                    _("💬 Автор ответил:"), texts.quote(comment, 3000), _("Сроки продолжаются.") if deadlines else None,
                    *deadlines), now)
            case ClarificationReceived():
                await self.say(conn, row, texts.lines(
                    _("🔇 Автор не ответил. Сроки продолжаются.") if deadlines else _("🔇 Автор не ответил"),
                    *deadlines), now)
            case NeedExplanation():
                await self.say(conn, row, texts.lines(
                    _("💬 Нужно разъяснение вместо ответа ({who}).").format(who=who), *deadlines), now)

    async def _close_topic(self, conn: aiosqlite.Connection, row: store.IncidentRow, now: datetime) -> None:
        if row.thread_id:
            await enqueue(conn, row.chat_id, "closeForumTopic",
                          {"chat_id": row.chat_id, "message_thread_id": row.thread_id}, now)

    async def _route_request(self, profile: Profile, row: store.IncidentRow, now: datetime) -> str:
        """Who should pick the departments now, mentioned."""
        routers = await self._mentions(row.chat_id, actions.who_may(profile, Offer(Step.ROUTE), row.incident, now))
        return texts.address(routers or _("Координатор"), _("выберите отделы и нажмите «{button}».").format(
            button=escape(actions.words(profile, Step.ROUTE)[0])))

    async def _route_keyboard(self, row: store.IncidentRow) -> dict[str, Any]:
        departments = [(d.id, d.name) for d in await org.active_departments(self.db, row.chat_id)]
        return kb.reroute_keyboard(row.incident.id, departments, [],
                                   actions.words(self.profile(row.profile), Step.ROUTE)[0])

    async def _mentions(self, chat_id: int, roles: list[str]) -> str:
        people = {p.user_id: p for p in await self.with_role(chat_id, *roles)}
        return ", ".join(texts.mention(p.user_id, p.name) for p in people.values())

    async def _mentions_heads(self, department_id: int | None, chat_id: int) -> str:
        if department_id is None:
            return ""
        return ", ".join(texts.mention(p.user_id, p.name) for p in await self.heads(department_id, chat_id))

    async def _answerers(self, profile: Profile, inc: Incident, chat_id: int) -> str:
        """Who writes the answer now: the joint answer's role, or the heads of the assigned departments."""
        if joint_answer(profile, inc) and profile.workflow.joint_answer_by:
            heads = [await self._mentions_heads(d, chat_id) for d in inc.departments]
            return ", ".join(x for x in [await self._mentions(chat_id, [profile.workflow.joint_answer_by]), *heads]
                             if x)
        return ", ".join(x for x in [await self._mentions_heads(d, chat_id) for d in inc.departments] if x)

    async def _publishers(self, profile: Profile, inc: Incident, chat_id: int, now: datetime) -> str | None:
        who = await self._mentions(chat_id, actions.who_may(profile, Offer(Step.PUBLISH), inc, now))
        return _("Разместит и отметит: {who}").format(who=who) if who else None

    async def _department_name(self, department_id: int) -> str:
        dep = await org.department(self.db, department_id)
        return dep.name if dep else "?"

    async def _reviewers(self, profile: Profile, inc: Any, chat_id: int) -> str | None:
        """Mentions of whoever decides on the current approval step, so their phones ring."""
        step = profile.approval[inc.step] if profile.approval else None
        if step is None:
            return None
        roles = [step.role, *(r for r, spec in profile.roles.items() if spec.acts_for == step.role)]
        who = await self._mentions(chat_id, roles)
        return _("Проверяет: {who}").format(who=who) if who else None


def _outcome(profile: Profile, offer: Offer) -> Outcome | None:
    outcomes = profile.workflow.outcomes
    return outcomes[offer.value] if offer.step is Step.CLOSE and 0 <= offer.value < len(outcomes) else None


AWAITED_STEP = "step"  # the bot asked for words a step needs; the presser's next message in the thread
REROUTE_TOGGLE, REROUTE_SEND = "rd", "rs"
WITHOUT_LINK = 1
