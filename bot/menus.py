"""The command menus per role (setMyCommands scopes), /help for one's roles, /status: what is open and due.

Menus are set once at start: private chats get /start /help /status /language; people who take messages in,
route them or may ask for the report (and administrators) also /report, in their own private chat; a bound
group /bind /status /report; any other group /bind. A menu that cannot be set is logged, never fatal.
A person's own menu is in his language (/language), the others in the bot's (BOT_LANGUAGE).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import TYPE_CHECKING

from aiogram import Bot
from aiogram.exceptions import TelegramNetworkError, TelegramServerError
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    BotCommandScopeUnion,
)

from bot import texts
from bot.i18n import N_, _, use
from bot.settings import Settings
from bot.workflow import Actor, RunningTimer, may, notices
from profiles.events import Action
from profiles.schema import Profile
from storage import incidents as store
from storage import org
from storage.db import Database
from storage.org import ADMIN_ROLE
from storage.outbox import enqueue

if TYPE_CHECKING:
    from bot.service import Service

log = logging.getLogger(__name__)

ProfileOf = Callable[[str], Profile]

# descriptions are translated when a menu is set (commands_in)
START = BotCommand(command="start", description=N_("Начать работу с ботом"))
ADMIN = BotCommand(command="admin", description=N_("Отделы, люди, приглашения"))
AWAY = BotCommand(command="away", description=N_("Отпуск или командировка: кто замещает"))
HELP = BotCommand(command="help", description=N_("Что я умею и что делать вам"))
STATUS = BotCommand(command="status", description=N_("Открытые инциденты и сроки"))
LANGUAGE = BotCommand(command="language", description=N_("Язык бота: русский или английский"))
REPORT = BotCommand(command="report", description=N_("Отчёт за месяц: /report или /report 2026-11"))
BIND = BotCommand(command="bind", description=N_("Подключить группу (администратор)"))

PRIVATE = (START, HELP, STATUS, LANGUAGE)
MEMBER = (START, HELP, STATUS, LANGUAGE, AWAY)
PRIVATE_WITH_REPORT = (START, HELP, STATUS, LANGUAGE, AWAY, REPORT)
ADMIN_MENU = (START, HELP, STATUS, LANGUAGE, AWAY, REPORT, ADMIN)
BOUND_GROUP = (BIND, STATUS, REPORT)
ANY_GROUP = (BIND,)
MENU_ACTIONS = (Action.INTAKE, Action.ROUTE, Action.REPORT)  # who gets /report in the private menu
SEES_ALL = (Action.INTAKE, Action.ROUTE, Action.ESCALATIONS)  # /status shows them every open incident
REQUEST_TIMEOUT = 10
STATUS_LIMIT = 3600  # characters of /status, under Telegram's 4096
STATUS_PAGE = 100  # incidents /status loads per group: more than one message shows
SNIPPET = 60  # characters of the citizen's text that say which incident it is


# --- menus ------------------------------------------------------------------------------------


Menu = tuple[BotCommandScopeUnion, tuple[BotCommand, ...], str]  # scope, commands, language


@dataclass(frozen=True)
class MenuPlan:
    """Which commands each scope gets in which language, and the private chats whose own menu is removed."""

    menus: tuple[Menu, ...]
    cleared: tuple[BotCommandScopeChat, ...] = ()


def commands_in(commands: tuple[BotCommand, ...], language: str) -> list[BotCommand]:
    with use(language):
        return [BotCommand(command=c.command, description=_(c.description)) for c in commands]


async def plan_menus(db: Database, settings: Settings, profile_of: ProfileOf) -> MenuPlan:
    groups = await org.groups(db)
    admins = set(settings.admin_ids) | {p.user_id for p in await org.people_with_role(db, ADMIN_ROLE, None)}
    with_report: set[int] = set()
    members: set[int] = set()
    for g in groups:
        profile = profile_of(g.profile)
        admins |= {p.user_id for p in await org.people_with_role(db, ADMIN_ROLE, g.chat_id)}
        for role in sorted({r for action in MENU_ACTIONS for r in profile.roles_with(action)}):
            with_report |= {p.user_id for p in await org.people_with_role(db, role, g.chat_id)}
        members |= {m.user_id for m in await org.memberships(db, g.chat_id)}
    with_report -= admins
    members -= admins | with_report
    bot_language = settings.bot_language
    former = set(await org.people_ids(db)) - admins - with_report - members  # e.g. removed by an admin
    languages = {uid: await org.language(db, uid) or bot_language for uid in admins | with_report | members | former}
    chosen = {uid for uid in former if languages[uid] != bot_language}  # no role, but a language of his own
    own = [(ADMIN_MENU, admins), (PRIVATE_WITH_REPORT, with_report), (MEMBER, members), (PRIVATE, chosen)]
    menus: list[Menu] = [
        (BotCommandScopeAllPrivateChats(), PRIVATE, bot_language),
        (BotCommandScopeAllGroupChats(), ANY_GROUP, bot_language),
        *((BotCommandScopeChat(chat_id=g.chat_id), BOUND_GROUP, bot_language) for g in groups),
        *((BotCommandScopeChat(chat_id=uid), commands, languages[uid])
          for commands, people in own for uid in sorted(people) if uid > 0),
    ]
    return MenuPlan(tuple(menus), tuple(BotCommandScopeChat(chat_id=uid) for uid in sorted(former - chosen)
                                        if uid > 0))


async def setup_menus(bot: Bot, db: Database, settings: Settings, profile_of: ProfileOf) -> int:
    """Set the menus; returns how many were set. Never raises: a menu is a convenience, not a duty."""
    try:
        plan = await plan_menus(db, settings, profile_of)
    except Exception:
        log.exception("menus: cannot work out who gets which commands")
        return 0
    return await _apply_plan(bot, plan)


async def refresh_menu(bot: Bot, db: Database, settings: Settings, profile_of: ProfileOf, user_id: int) -> None:
    """One person's own menu again, e.g. in the language he has just chosen. Never raises."""
    try:
        plan = await plan_menus(db, settings, profile_of)
    except Exception:
        log.exception("menus: cannot work out who gets which commands")
        return
    await _apply_plan(bot, MenuPlan(
        tuple(m for m in plan.menus if getattr(m[0], "chat_id", None) == user_id),
        tuple(c for c in plan.cleared if c.chat_id == user_id)))


async def _apply_plan(bot: Bot, plan: MenuPlan) -> int:
    done = 0
    try:
        for scope, commands, language in plan.menus:
            try:
                await bot.set_my_commands(commands_in(commands, language), scope=scope,
                                          request_timeout=REQUEST_TIMEOUT)
                done += 1
            except (TelegramNetworkError, TelegramServerError):
                raise
            except Exception as e:  # e.g. a private chat of someone who never started the bot: "chat not found"
                log.warning("menus: cannot set the commands for %s: %s", _scope_name(scope), e)
        for scope in plan.cleared:  # a former coordinator keeps no /report of his own
            try:
                await bot.delete_my_commands(scope=scope, request_timeout=REQUEST_TIMEOUT)
            except (TelegramNetworkError, TelegramServerError):
                raise
            except Exception as e:
                log.debug("menus: nothing to clear for %s: %s", _scope_name(scope), e)
    except (TelegramNetworkError, TelegramServerError) as e:
        log.warning("menus: Telegram is unavailable (%s); the menus stay as they were", e)
    log.info("menus: %d of %d set", done, len(plan.menus))
    return done


def _scope_name(scope: BotCommandScopeUnion) -> str:
    chat = getattr(scope, "chat_id", None)
    return f"{scope.type} {chat}" if chat is not None else scope.type


# --- who is asking ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Asker:
    """The roles of the person asking, read against the profile of where he asks."""

    profile: Profile
    actor: Actor
    admin: bool
    chat_id: int | None = None  # the group read against

    def may(self, action: Action) -> bool:
        return may(self.profile, self.actor, action)

    @property
    def approves(self) -> bool:
        roles = {s.role for s in self.profile.approval}
        acting = {r for r in self.actor.roles if r in self.profile.roles and self.profile.roles[r].acts_for in roles}
        return bool(self.actor.roles & roles or acting)

    @property
    def sees_all(self) -> bool:
        return any(self.may(a) for a in SEES_ALL)


async def asker(service: Service, user_id: int, chat_id: int | None = None) -> Asker:
    """Read against the group asked in; in a private chat, against the first of the asker's groups."""
    group = await org.group(service.db, chat_id) if chat_id is not None else None
    if group is None:
        mine = await org.groups_of(service.db, user_id)
        if not mine:  # a stranger: the only group there is (several: none, so nothing leaks)
            every = await org.groups(service.db)
            mine = every if len(every) == 1 else []
        group = mine[0] if mine else None
    profile = service.profile(group.profile if group else service.default_profile)
    actor = await service.actor(user_id, group.chat_id) if group else Actor(user_id)
    return Asker(profile, actor, await service.is_admin(user_id, group.chat_id if group else None),
                 group.chat_id if group else None)


# --- /help ------------------------------------------------------------------------------------


async def help_command(service: Service, user_id: int, chat_id: int) -> None:
    """/help in a private chat: what to do, for each of the person's roles; queued to the chat (in the
    asker's language: the current locale)."""
    who = await asker(service, user_id)
    departments = [d for d in await org.active_departments(service.db, who.chat_id) if d.id in who.actor.departments]
    contacts = await service.with_role(who.chat_id, *who.profile.roles_with(Action.ROUTE), ADMIN_ROLE) \
        if who.chat_id else []
    text = help_text(who, [d.name for d in departments], contacts)
    async with service.db.transaction() as conn:
        await enqueue(conn, chat_id, "sendMessage", {"chat_id": chat_id, "text": text}, service.clock.now())


def help_text(who: Asker, departments: list[str], contacts: list[org.Person]) -> str:
    p = who.profile
    parts: list[str] = [_("<b>Инцидент-менеджмент</b> · {profile}").format(profile=escape(p.profile.name))]
    if who.may(Action.INTAKE) or who.may(Action.ROUTE):
        parts.append(texts.lines(
            _("<b>Координатор</b>"),
            _("Перешлите мне сообщение гражданина: текст, фото, видео, документ или ссылку. Проверьте источник, "
              "выберите отделы (первый — ответственный) и нажмите «📨 Отправить в группу».")
            if who.may(Action.INTAKE) else None,
            _("«🕒 Время выявления» — если сообщение нашли раньше, чем переслали.") if who.may(Action.INTAKE)
            else None,
            _("Вернули как «не нашу компетенцию» — выберите отделы заново в теме инцидента.")
            if who.may(Action.ROUTE) else None,
        ))
    if who.approves or who.may(Action.PUBLISH):
        parts.append(texts.lines(
            _("<b>Согласование</b>"),
            _("Ответ приходит в тему инцидента: «✅ Согласовать», «↩️ На доработку» (напишите, что исправить) "
              "или «✏️ Исправить» (пришлите свой текст).") if who.approves else None,
            _("Разместили ответ — «📤 Опубликовано» и ссылка.") if who.may(Action.PUBLISH) else None,
            _("«⏳ Промежуточный» — если дан промежуточный ответ.") if who.may(Action.PUBLISH)
            and p.workflow.intermediate_answers else None,
        ))
    if who.may(Action.ANSWER) and who.actor.departments:
        deps = "; ".join(escape(d) for d in departments)
        parts.append(texts.lines(
            _("<b>Руководитель отдела</b>") + (f" ({deps})" if deps else ""),
            _("Ответ пишите в теме инцидента: текст, фото или документ. Исправили сообщение — исправился ответ."),
            _("Кнопки: «🗑 Отозвать» — забрать ответ с проверки; «🚫 Не наша компетенция» — вернуть координатору "
              "с причиной."),
            _("О сроках напомню заранее."),
        ))
    if who.may(Action.ESCALATIONS):
        at = f"{p.defaults.digest_at:%H:%M}"
        digest = _("{time} по рабочим дням").format(time=at) if p.defaults.digest_on_working_days_only \
            else _("{time} ежедневно").format(time=at)
        parts.append(texts.lines(
            _("<b>Контроль</b>"),
            _("О просроченных сроках пишу вам сразу и повторяю, пока шаг не сделан."),
            _("Сводка за вчера — в {digest}, здесь и в группе.").format(digest=digest),
        ))
    if who.may(Action.REPORT):
        parts.append(_("/report — отчёт за месяц, /report 2026-11 — за выбранный."))
    if who.admin:
        parts.append(_("<b>Администратор</b>: /admin — отделы, люди и роли, приглашения; "
                       "/bind в группе подключает её к боту."))
    if len(parts) == 1:
        ask = ", ".join(texts.mention(c.user_id, c.name) for c in contacts[:3]) or _("администратору бота")
        parts.append(texts.lines(
            _("Вы не указаны в организации бота, поэтому задач у вас здесь нет."),
            _("Если это ошибка, напишите: {contacts}.").format(contacts=ask),
        ))
    else:
        parts.append(_("/status — открытые инциденты и сроки.") + "\n"
                     + _("/away 30.11 — уходите в отпуск или командировку: выберите, кто замещает; "
                         "/away — вернуться."))
    parts.append(_("/language — язык бота."))
    return "\n\n".join(parts)


# --- /status ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusAsk:
    user_id: int
    chat_id: int
    private: bool
    message_id: int | None = None
    thread_id: int | None = None


async def status_command(service: Service, ask: StatusAsk) -> None:
    """/status: the open incidents the asker answers for (all of them for the coordinator and the
    controller), each with its next deadline; queued to the chat it was asked in."""
    now = service.clock.now()
    text = await status_text(service, ask, now)
    payload: dict[str, object] = {"chat_id": ask.chat_id, "text": text}
    if ask.thread_id:
        payload["message_thread_id"] = ask.thread_id
    if not ask.private and ask.message_id:
        payload["reply_parameters"] = {"message_id": ask.message_id, "allow_sending_without_reply": True}
    async with service.db.transaction() as conn:
        await enqueue(conn, ask.chat_id, "sendMessage", payload, now)


async def status_scope(service: Service, ask: StatusAsk) -> list[tuple[org.Group, frozenset[int] | None]] | str:
    """The groups /status covers (in a group: that one; in a private chat: every group the asker works in), each
    with the departments whose incidents he sees (None: all of them); or why there is nothing to show."""
    if ask.private:
        groups = await org.groups_of(service.db, ask.user_id)
    else:
        group = await org.group(service.db, ask.chat_id)
        if group is None:
            return _("Группа не подключена: администратор должен отправить /bind.")
        groups = [group]
    scope: list[tuple[org.Group, frozenset[int] | None]] = []
    for group in groups:
        who = await asker(service, ask.user_id, group.chat_id)
        if who.sees_all or who.actor.departments:
            scope.append((group, None if who.sees_all else who.actor.departments))
    if not scope:
        return _("Открытых инцидентов за вами нет: вы не руководитель отдела и не координатор. "
                 "Что я умею — /help в личном чате со мной.")
    return scope


async def status_text(service: Service, ask: StatusAsk, now: datetime) -> str:
    """In a group: that group's incidents. In a private chat: those of every group the asker works in.
    A few queries whatever the number of open incidents: each group's are counted and ordered in SQL
    (storage.incidents.open_page, by the keys the core computes on every save), and only those the message
    can show are loaded."""
    db = service.db
    scope = await status_scope(service, ask)
    if isinstance(scope, str):
        return scope
    lists = [(group.chat_id, departments, None if departments is not None else
              {d.id: d.name for d in await org.all_departments(db, group.chat_id)}) for group, departments in scope]
    await store.ensure_status(db, service.profile)
    limit = STATUS_PAGE
    while True:
        pages = [await store.open_page(db, chat_id, now, departments, limit) for chat_id, departments, _n in lists]
        text = await _status_page(service, lists, pages, now)
        if text is not None:
            return text
        limit *= 4  # the message has room for more than one page holds (short blocks)


async def _status_page(service: Service, lists: list[tuple[int, frozenset[int] | None, dict[int, str] | None]],
                       pages: list[store.OpenPage], now: datetime) -> str | None:
    """The message from each group's first page; None when it has room for more than they hold."""
    sees_all = any(departments is None for _chat, departments, _names in lists)
    total = sum(p.total for p in pages)
    if not total:
        return _("Открытых инцидентов нет.") if sees_all else _("По вашим отделам открытых инцидентов нет.")
    rows = await store.load_many(service.db.conn, [i for p in pages for i in p.ids])
    items = []
    known = None  # the order is certain up to the last incident of a group whose page does not hold them all
    for (_chat, departments, names), page in zip(lists, pages, strict=True):
        last = None
        for incident_id in page.ids:
            row = rows.get(incident_id)
            if row is None:
                continue
            profile = service.profile(row.profile)
            timer = next_deadline(row, profile, departments)
            key = (timer is None, timer.due_at if timer else now, incident_id)
            items.append((key, row, profile, timer, names))
            last = key
        if len(page.ids) < page.total and last is not None:
            known = last if known is None else min(known, last)
    items.sort(key=lambda x: x[0])
    late = sum(p.late for p in pages)
    title = _("Открытые инциденты") if sees_all else _("Открытые инциденты ваших отделов")
    head = f"<b>{title}: {total}</b>" + (_(" · ⚠️ просрочено: {count}").format(count=late) if late else "")
    blocks = [head]
    size = len(head)
    for shown, (key, row, profile, timer, names) in enumerate(items):
        if known is not None and key > known:
            return None
        block = _incident_block(row, profile, timer, names, now)
        if size + len(block) + 2 > STATUS_LIMIT:
            blocks.append(_("… и ещё {count}: полный список — в ежедневной сводке.").format(count=total - shown))
            return "\n\n".join(blocks)
        blocks.append(block)
        size += len(block) + 2
    if len(items) < total:
        return None
    return "\n\n".join(blocks)


def next_deadline(row: store.IncidentRow, profile: Profile, departments: Iterable[int] | None) -> RunningTimer | None:
    """The deadline of the step the incident waits for now (never a window); for a head, the nearest of those
    his departments must meet, if any; a paused one when nothing runs (the author is asked):
    bot.workflow.notices.status_timer, the rule /status's order is kept by."""
    return notices.status_timer(profile, row.incident, departments)


def _incident_block(row: store.IncidentRow, profile: Profile, timer: RunningTimer | None,
                    names: dict[int, str] | None, now: datetime) -> str:
    number = f"№{row.incident.id}"
    link = _link(row)
    first = f'<a href="{link}">{number}</a>' if link else f"<b>{number}</b>"
    lead = row.incident.lead
    if names is not None and lead is not None:
        first += f" · {escape(names.get(lead, '—'))}"
    first += f" — {escape(texts.state_title(row.incident.state))}"
    words = " ".join(row.text.split())
    if len(words) > SNIPPET:
        words = (words[:SNIPPET].rsplit(" ", 1)[0] or words[:SNIPPET]).rstrip(" ,.;:—-") + "…"
    snippet = f"«{escape(words)}»" if words else None
    deadline = texts.deadline_line(timer, profile, row.incident.track, now) if timer else _("• сроков сейчас нет")
    return texts.lines(first, snippet, deadline)


def _link(row: store.IncidentRow) -> str | None:
    """A tap opens the incident's topic (or its card) in a supergroup."""
    chat = str(row.chat_id)
    target = row.thread_id or row.card_message_id
    if not chat.startswith("-100") or not target:
        return None
    return f"https://t.me/c/{chat[4:]}/{target}"
