"""The organisation file and its import; storage queries; the /bind use case with plain values."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from bot.binding import BindOutcome, BotRights, Mode, Right, Status, bind_group, check_rights, rights_from_telegram
from bot.cli import main
from bot.org_file import OrgFileError, import_org, read_org_file
from handlers.admin import render_bind
from storage import org
from storage.db import Database
from storage.migrations import MIGRATIONS

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "tests" / "data" / "org-example.toml"
EXAMPLE_TEXT = EXAMPLE.read_text(encoding="utf-8")
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
async def db(tmp_path):
    database = await Database.open(tmp_path / "db.sqlite3")
    yield database
    await database.close()


@pytest.fixture
def env(tmp_path, monkeypatch):
    """The CLI as a deployer runs it: no BOT_TOKEN, DATABASE_PATH in the environment, no .env around."""
    monkeypatch.chdir(tmp_path)
    for key in ("BOT_TOKEN", "DEFAULT_PROFILE", "PROFILES_DIR", "ADMIN_IDS"):
        monkeypatch.delenv(key, raising=False)
    path = tmp_path / "cli.sqlite3"
    monkeypatch.setenv("DATABASE_PATH", str(path))
    return path


def write(tmp_path: Path, text: str, name: str = "org.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def edited(old: str, new: str) -> str:
    assert old in EXAMPLE_TEXT, old
    return EXAMPLE_TEXT.replace(old, new, 1)


async def dump(db: Database) -> dict[str, list[tuple]]:
    out = {}
    for table in ("departments", "people", "memberships", "groups"):
        rows = await db.fetchall(f"SELECT * FROM {table} ORDER BY 1, 2, 3")
        out[table] = [tuple(r) for r in rows]
    return out


def snapshot(path: Path) -> dict[str, list[tuple]]:
    async def go() -> dict[str, list[tuple]]:
        db = await Database.open(path)
        try:
            return await dump(db)
        finally:
            await db.close()

    return asyncio.run(go())


async def load(db: Database, path: Path = EXAMPLE):
    return await import_org(db, read_org_file(path))


# --- the file -------------------------------------------------------------------------------------


def test_the_example_is_valid_and_flattened():
    spec = read_org_file(EXAMPLE)
    assert spec.profile == "izobilny"
    assert [d.code for d in spec.departments] == ["zhkh", "roads", "education", "ryzdvyany"]
    assert [d.territorial for d in spec.departments] == [False, False, False, True]
    assert (100001, "coordinator", None) in spec.memberships and (100001, "admin", None) in spec.memberships
    assert (200004, "executor", "education") in spec.memberships
    assert len(spec.people) == 8 and spec.unheld_roles == ()


@pytest.mark.parametrize(
    ("old", "new", "key", "reason"),
    [
        ('roles = ["controller"]', 'roles = ["mayor"]', "people[2] (Фёдоров Игорь Павлович).roles[0]",
         "unknown role 'mayor'; known: admin, controller, coordinator, executor, substitute"),
        ('code = "zhkh"\nname = "Управление жилищно-коммунального хозяйства"\n',
         'code = "zhkh"\n', "departments[0] (zhkh).name", "required key is missing"),
        ('code = "roads"', 'code = "zhkh"', "departments[1] (zhkh).code",
         "duplicate code 'zhkh' (also departments[0])"),
        ("user_id = 100002", 'user_id = "Смирнов"', "people[1] (Смирнов Дмитрий Олегович).user_id",
         "must be a whole number, got 'Смирнов'"),
        ("user_id = 200002", "user_id = 2000.5", "departments[1] (roads).heads[0] (Сидоров Сергей Иванович).user_id",
         "must be a whole number, got 2000.5"),
        ("territorial = true", "territorial = true\nregion = 1", "departments[3] (ryzdvyany).region",
         "unknown key (a typo?)"),
        ('profile = "izobilny"', 'profile = "atlantis"', "profile", "no such valid profile 'atlantis'"),
        ('head_role = "executor"', 'head_role = "boss"', "head_role", "unknown role 'boss'"),
        ('roles = ["substitute"]', 'roles = ["executor"]', "people[1] (Смирнов Дмитрий Олегович).roles[0]",
         "'executor' is the head role"),
        ('roles = ["substitute"]', 'roles = ["substitute", "substitute"]',
         "people[1] (Смирнов Дмитрий Олегович).roles[1]", "listed twice"),
        ('user_id = 100003\nname = "Фёдоров Игорь Павлович"', 'user_id = 200001\nname = "Фёдоров Игорь Павлович"',
         "people[2] (Фёдоров Игорь Павлович).name", "user 200001 is named 'Петров Пётр Петрович'"),
        ('username = "ivanova_as"', 'username = "a b"', "people[0] (Иванова Анна Сергеевна).username",
         "not a Telegram username"),
        ('code = "roads"', 'code = "Дороги"', "departments[1] (Дороги).code", "must be short Latin lowercase"),
    ],
)
def test_a_bad_file_names_the_key_and_the_reason(tmp_path, old, new, key, reason):
    path = write(tmp_path, edited(old, new))
    with pytest.raises(OrgFileError) as e:
        read_org_file(path)
    assert len(e.value.problems) == 1, e.value.problems
    line = str(e.value.problems[0])
    assert line.startswith(f"{path}: {key}: "), line
    assert reason in line, line


def test_every_problem_is_reported_at_once(tmp_path):
    text = edited('roles = ["controller"]', 'roles = ["mayor"]').replace('code = "roads"', 'code = "zhkh"')
    text = text.replace("user_id = 100002", 'user_id = "x"')
    with pytest.raises(OrgFileError) as e:
        read_org_file(write(tmp_path, text))
    # pydantic errors first (the non-integer id); cross-checks need a structurally valid file
    assert [p.key for p in e.value.problems] == ["people[1] (Смирнов Дмитрий Олегович).user_id"]
    text = text.replace('user_id = "x"', "user_id = 100002")
    with pytest.raises(OrgFileError) as e:
        read_org_file(write(tmp_path, text))
    assert len(e.value.problems) == 2


def test_the_default_profile_is_used_when_the_file_names_none(tmp_path):
    spec = read_org_file(write(tmp_path, edited('profile = "izobilny"', "")), default_profile="izobilny")
    assert spec.profile == "izobilny"


def test_not_toml(tmp_path):
    with pytest.raises(OrgFileError) as e:
        read_org_file(write(tmp_path, "[[departments]\n"))
    assert str(e.value.problems[0]).startswith(f"{tmp_path / 'org.toml'}: -: not valid TOML")


# --- the import -------------------------------------------------------------------------------------


async def test_import_fills_the_tables_and_the_queries_answer(db):
    summary = await load(db)
    assert (len(summary.departments_added), summary.people_added, summary.memberships_added) == (4, 8, 9)
    deps = {d.code: d for d in await org.active_departments(db, None)}
    assert set(deps) == {"zhkh", "roads", "education", "ryzdvyany"} and deps["ryzdvyany"].territorial
    assert await org.roles_of(db, 100001, None) == {"coordinator", "admin"}
    assert await org.roles_of(db, 200003, None) == {"executor"}
    assert await org.roles_of(db, 999, None) == frozenset()
    assert await org.departments_headed_by(db, 200003, None) == {deps["education"].id}
    assert await org.departments_headed_by(db, 100001, None) == frozenset()
    assert await org.heads_of(db, deps["education"].id) == [
        org.Person(200003, "Кузнецова Мария Алексеевна", "kuznetsova_ma"),
        org.Person(200004, "Орлова Елена Викторовна", None),
    ]
    assert [p.user_id for p in await org.people_with_role(db, "coordinator", None)] == [100001]
    assert [p.user_id for p in await org.people_with_role(db, "executor", None)] == [
        200005, 200003, 200004, 200001, 200002]
    assert await org.department(db, deps["zhkh"].id) == deps["zhkh"]
    assert await org.department(db, 12345) is None


async def test_import_twice_changes_nothing(db):
    await load(db)
    first = await dump(db)
    summary = await load(db)
    assert not summary.changed
    assert await dump(db) == first


async def test_missing_departments_are_archived_and_missing_people_lose_their_roles(db, tmp_path):
    await load(db)
    ids = {d.code: d.id for d in await org.active_departments(db, None)}
    # roads is gone; the controller leaves; the coordinator is renamed; the substitute becomes an admin too
    text = EXAMPLE_TEXT.split('[[departments]]\ncode = "roads"')[0] + "[[departments]]" + \
        EXAMPLE_TEXT.split('[[departments]]\ncode = "roads"')[1].split("[[departments]]", 1)[1]
    text = text.split("[[people]]\nuser_id = 100003")[0]
    text = text.replace("Иванова Анна Сергеевна", "Иванова-Петрова Анна Сергеевна")
    text = text.replace('roles = ["substitute"]', 'roles = ["substitute", "admin"]')
    summary = await load(db, write(tmp_path, text))
    assert summary.departments_archived == ["roads"]
    assert summary.people_updated == 1
    assert [p.user_id for p in summary.roles_removed_from] == [100003, 200002]
    assert (summary.memberships_added, summary.memberships_removed) == (1, 2)
    assert "roads" not in {d.code for d in await org.active_departments(db, None)}
    roads = await org.department(db, ids["roads"])
    assert roads is not None and roads.archived  # kept: old incidents still name it
    assert await org.roles_of(db, 100003, None) == frozenset()
    assert await org.departments_headed_by(db, 200002, None) == frozenset()
    assert await org.person(db, 100003) == org.Person(100003, "Фёдоров Игорь Павлович", None)
    assert await org.roles_of(db, 100002, None) == {"substitute", "admin"}
    # back again: the same department row, un-archived
    summary = await load(db)
    assert summary.departments_updated == ["roads"]
    assert {d.code: d.id for d in await org.active_departments(db, None)} == ids


async def test_dry_run_writes_nothing(db):
    before = await dump(db)
    summary = await import_org(db, read_org_file(EXAMPLE), dry_run=True)
    assert summary.people_added == 8
    assert await dump(db) == before


# --- the command line -------------------------------------------------------------------------------


def test_cli_imports_without_a_bot_token(env, capsys):
    assert main(["org", "import", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert f"imported into {env}" in out
    assert "departments: 4 added, 0 updated, 0 archived; 4 active" in out
    assert "people: 8 added" in out
    assert env.exists()
    assert main(["org", "import", str(EXAMPLE)]) == 0
    assert "nothing changed" in capsys.readouterr().out


def test_cli_reads_the_database_path_from_dot_env(env, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("DATABASE_PATH")
    (tmp_path / ".env").write_text("BOT_TOKEN=\nDATABASE_PATH=from-dotenv.sqlite3\n", encoding="utf-8")
    assert main(["org", "import", str(EXAMPLE)]) == 0
    assert (tmp_path / "from-dotenv.sqlite3").exists()


def test_cli_says_what_was_removed(env, tmp_path, capsys):
    assert main(["org", "import", str(EXAMPLE), "--database", str(tmp_path / "other.sqlite3")]) == 0
    text = EXAMPLE_TEXT.split("[[people]]\nuser_id = 100003")[0]
    capsys.readouterr()
    assert main(["org", "import", str(write(tmp_path, text)), "--database", str(tmp_path / "other.sqlite3")]) == 0
    out = capsys.readouterr().out
    assert "roles removed (not in the file): Фёдоров Игорь Павлович (100003)" in out
    assert not env.exists()  # --database wins over DATABASE_PATH


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ('roles = ["controller"]', 'roles = ["mayor"]', "people[2] (Фёдоров Игорь Павлович).roles[0]"),
        ('code = "zhkh"\nname = "Управление жилищно-коммунального хозяйства"\n', 'code = "zhkh"\n',
         "departments[0] (zhkh).name"),
        ('code = "roads"', 'code = "zhkh"', "departments[1] (zhkh).code"),
        ("user_id = 100002", 'user_id = "100002"', "people[1] (Смирнов Дмитрий Олегович).user_id"),
    ],
)
def test_cli_rejects_a_bad_file_and_changes_nothing(env, tmp_path, capsys, old, new, key):
    assert main(["org", "import", str(EXAMPLE)]) == 0
    before = snapshot(env)
    capsys.readouterr()
    path = write(tmp_path, edited(old, new).replace('code = "education"', 'code = "schools"'))
    assert main(["org", "import", str(path)]) == 2
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{path}: {key}: "), lines
    assert snapshot(env) == before


def test_cli_a_bad_file_does_not_even_create_the_database(env, tmp_path, capsys):
    assert main(["org", "import", str(write(tmp_path, 'mayor = 1\n[[departments]]\ncode = "a"\nname = "А"\n'))]) == 2
    assert capsys.readouterr().out.strip() == f"{tmp_path / 'org.toml'}: mayor: unknown key (a typo?)"
    assert not env.exists()


def test_cli_refuses_a_file_without_departments(env, tmp_path, capsys):
    assert main(["org", "import", str(write(tmp_path, 'profile = "izobilny"\n'))]) == 2
    assert capsys.readouterr().out.strip() == f"{tmp_path / 'org.toml'}: departments: required key is missing"


def test_cli_missing_file(env, tmp_path, capsys):
    assert main(["org", "import", str(tmp_path / "nope.toml")]) == 2
    assert capsys.readouterr().out.strip() == f"{tmp_path / 'nope.toml'}: -: file not found"


# --- groups --------------------------------------------------------------------------------------------


async def test_bind_group_records_and_rebinds(db):
    async with db.transaction():
        assert await org.bind_group(db, -100, "Инциденты", "izobilny", True, 1, NOW) is None
    async with db.transaction():
        previous = await org.bind_group(db, -100, "Инциденты 2", "stavropol", False, 2, NOW)
    assert previous is not None and previous.profile == "izobilny"
    assert await org.group(db, -100) == org.Group(-100, "Инциденты 2", "stavropol", False, 2, NOW)
    assert await org.groups(db) == [org.Group(-100, "Инциденты 2", "stavropol", False, 2, NOW)]
    assert await org.group(db, -200) is None


# --- /bind ----------------------------------------------------------------------------------------------

FORUM_OK = BotRights(is_forum=True, is_admin=True, can_manage_topics=True, can_pin_messages=True,
                     can_delete_messages=True, can_invite_users=True, can_restrict_members=True)
NICE = "«Закрепление сообщений», «Удаление сообщений», «Пригласительные ссылки» и «Блокировка пользователей»"


class Probe:
    def __init__(self, rights: BotRights) -> None:
        self.rights, self.calls = rights, 0

    async def __call__(self) -> BotRights:
        self.calls += 1
        return self.rights


async def bind(db: Database, rights: BotRights = FORUM_OK, *, user_id: int | None = 7, profile: str | None = None,
               admin_ids: tuple[int, ...] = (7,)) -> tuple[BindOutcome, Probe]:
    probe = Probe(rights)

    async def is_admin(uid: int) -> bool:  # ADMIN_IDS, or the admin role in the organisation
        return uid in admin_ids or org.ADMIN_ROLE in await org.roles_of(db, uid, -100)

    outcome = await bind_group(db, chat_id=-100, title="Инциденты <ИМО>", user_id=user_id, profile=profile,
                               probe=probe, now=NOW, is_admin=is_admin, default_profile="izobilny")
    return outcome, probe


async def test_bind_a_forum_with_every_right(db):
    outcome, _ = await bind(db)
    assert (outcome.status, outcome.mode, outcome.missing, outcome.nice_to_have) == (Status.BOUND, Mode.TOPICS, (), ())
    assert await org.group(db, -100) == org.Group(-100, "Инциденты <ИМО>", "izobilny", True, 7, NOW)
    text = render_bind(outcome, "Инциденты <ИМО>")
    assert "«Инциденты &lt;ИМО&gt;» подключена" in text and "тема на каждый инцидент" in text


async def test_bind_by_an_org_admin_and_rebind_changes_the_profile(db):
    await load(db)
    outcome, _ = await bind(db, user_id=100001, admin_ids=())
    assert outcome.status is Status.BOUND
    outcome, _ = await bind(db, user_id=100001, admin_ids=(), profile="Stavropol")
    assert (outcome.status, outcome.profile, outcome.previous_profile) == (Status.BOUND, "stavropol", "izobilny")
    assert "Профиль сменён" in render_bind(outcome, "x")
    group = await org.group(db, -100)
    assert group is not None and group.profile == "stavropol"


@pytest.mark.parametrize(("user_id", "status"), [(8, Status.REFUSED), (None, Status.ANONYMOUS)])
async def test_bind_by_anyone_else_is_refused_and_changes_nothing(db, user_id, status):
    outcome, probe = await bind(db, user_id=user_id)
    assert outcome.status is status
    assert probe.calls == 0  # no Telegram calls on behalf of strangers
    assert await org.groups(db) == []


async def test_bind_an_unknown_profile(db):
    outcome, probe = await bind(db, profile="atlantis")
    assert outcome.status is Status.UNKNOWN_PROFILE and "izobilny" in outcome.known_profiles
    assert probe.calls == 0 and await org.groups(db) == []
    assert render_bind(outcome, "").startswith("Нет профиля «atlantis». Есть: ")


async def test_bind_a_forum_where_the_bot_is_no_admin(db):
    outcome, _ = await bind(db, BotRights(is_forum=True))
    assert outcome.status is Status.NOT_BOUND and await org.groups(db) == []
    assert outcome.missing == (Right.ADMIN, Right.MANAGE_TOPICS)
    text = render_bind(outcome, "Инциденты")
    assert "Нужно: сделайте меня администратором с правом «Управление темами»." in text
    assert f"Желательно: ещё права {NICE}." in text


async def test_bind_a_forum_where_the_bot_may_not_manage_topics(db):
    outcome, _ = await bind(db, BotRights(is_forum=True, is_admin=True, can_pin_messages=True, can_invite_users=True,
                                          can_restrict_members=True))
    assert outcome.status is Status.NOT_BOUND and outcome.missing == (Right.MANAGE_TOPICS,)
    text = render_bind(outcome, "Инциденты")
    assert "Нужно: дайте мне право «Управление темами»." in text
    assert "Желательно: дайте мне право «Удаление сообщений»." in text


async def test_bind_a_forum_without_pin_and_delete_binds_and_asks_for_them(db):
    outcome, _ = await bind(db, BotRights(is_forum=True, is_admin=True, can_manage_topics=True))
    assert outcome.status is Status.BOUND
    assert outcome.nice_to_have == (Right.PIN, Right.DELETE, Right.INVITE, Right.RESTRICT)
    assert f"Желательно: дайте мне права {NICE}." in render_bind(outcome, "x")
    outcome, _ = await bind(db, BotRights(is_forum=True, is_admin=True, can_manage_topics=True, can_pin_messages=True,
                                          can_invite_users=True, can_restrict_members=True))
    assert "Желательно: дайте мне право «Удаление сообщений»." in render_bind(outcome, "x")
    outcome, _ = await bind(db, BotRights(is_forum=True, is_admin=True, can_manage_topics=True, can_pin_messages=True,
                                          can_delete_messages=True))
    assert "Желательно: дайте мне права «Пригласительные ссылки» и «Блокировка пользователей»." in render_bind(
        outcome, "x")


async def test_bind_a_group_without_topics_works_with_cards_and_replies(db):
    outcome, _ = await bind(db, BotRights(is_forum=False))
    assert (outcome.status, outcome.mode) == (Status.BOUND, Mode.REPLIES)
    group = await org.group(db, -100)
    assert group is not None and not group.is_forum
    text = render_bind(outcome, "x")
    assert "карточка инцидента и ответы на неё" in text
    assert f"сделайте меня администратором с правами {NICE}" in text


async def test_bind_where_the_bot_may_not_write(db):
    outcome, _ = await bind(db, BotRights(is_forum=False, can_send_messages=False))
    assert outcome.status is Status.NOT_BOUND and outcome.missing == (Right.SEND,)
    assert "Нужно: разрешите мне отправлять сообщения." in render_bind(outcome, "x")


def test_check_rights_table():
    assert check_rights(FORUM_OK) == (Mode.TOPICS, (), ())
    assert check_rights(BotRights(is_forum=False, is_admin=True, can_pin_messages=True, can_delete_messages=True,
                                  can_invite_users=True, can_restrict_members=True)) == (Mode.REPLIES, (), ())


def test_rights_from_telegram_objects():
    from aiogram.types import ChatFullInfo, ChatMemberAdministrator, ChatMemberMember, ChatPermissions, User

    bot_user = User(id=1, is_bot=True, first_name="bot")
    admin = ChatMemberAdministrator.model_construct(user=bot_user, can_delete_messages=True, can_manage_topics=True,
                                                    can_pin_messages=False)
    forum = ChatFullInfo.model_construct(id=-1, type="supergroup", is_forum=True)
    assert rights_from_telegram(admin, forum) == BotRights(is_forum=True, is_admin=True, can_manage_topics=True,
                                                           can_delete_messages=True)
    muted = ChatFullInfo.model_construct(id=-2, type="group", permissions=ChatPermissions(can_send_messages=False))
    assert rights_from_telegram(ChatMemberMember(user=bot_user), muted) == BotRights(
        is_forum=False, can_send_messages=False)
    assert rights_from_telegram(SimpleNamespace(status="left"), SimpleNamespace()).can_send_messages is False


async def test_migration_4_gives_an_existing_organisation_to_its_group(tmp_path):
    """A database of the one-group version: its departments and roles become the bound group's; admins stay
    bot-wide; nothing is lost and the foreign keys hold."""
    path = tmp_path / "old.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as c:
        for script in MIGRATIONS[:3]:
            c.executescript(script)
        c.execute("PRAGMA user_version=3")
        c.execute("INSERT INTO groups (chat_id, title, profile, bound_at) VALUES (-100, 'g', 'izobilny', '2026-01-01')")
        c.execute("INSERT INTO departments (id, code, name) VALUES (7, 'zhkh', 'ЖКХ')")
        c.execute("INSERT INTO people (user_id, name) VALUES (1, 'A'), (2, 'B')")
        c.execute("INSERT INTO memberships (user_id, role, department_id) VALUES (1, 'admin', NULL), "
                  "(1, 'coordinator', NULL), (2, 'executor', 7)")
        c.commit()
    db = await Database.open(path)
    try:
        assert await org.roles_of(db, 1, -100) == {"admin", "coordinator"}
        assert await org.is_bot_admin(db, 1)
        assert await org.departments_headed_by(db, 2, -100) == {7}
        assert [d.code for d in await org.active_departments(db, -100)] == ["zhkh"]
        assert await org.active_departments(db, -200) == []
        assert await db.fetchall("PRAGMA foreign_key_check") == []
    finally:
        await db.close()


async def test_a_persons_standing_in_one_query_says_what_the_lookups_one_by_one_said(db):
    """context.actor reads roles, departments and stand-ins in one query (org.standing); on a random
    organisation — two groups, bot-wide roles, archived departments, absences current and past — it gives what
    roles_of / departments_headed_by for the person and for each one he stands in for (admin not lent) gave."""
    import random
    from datetime import timedelta

    from bot.clock import FakeClock
    from bot.context import Context
    from storage import absences

    rng = random.Random(7)
    groups, people = [-100, -200], list(range(1, 13))
    for p in people:
        await org.add_person(db, org.Person(p, f"Человек {p}"))
    departments = {g: [await org.add_department(db, g, f"Отдел {g} {i}") for i in range(4)] for g in groups}
    for g in groups:
        await org.update_department(db, departments[g][0], archived=True)
    for _ in range(40):
        g, p = rng.choice([*groups, None]), rng.choice(people)
        role = rng.choice(["coordinator", "executor", "controller", org.ADMIN_ROLE])
        department = rng.choice(departments[g]) if g is not None and role == "executor" else None
        await org.add_membership(db, g, org.Membership(p, role, department))
    async with db.transaction() as conn:
        for _ in range(10):
            g, absent, substitute = rng.choice(groups), rng.choice(people), rng.choice(people)
            until = NOW + timedelta(days=rng.choice([-1, 3]))  # some already over
            await absences.set_absence(conn, g, absent, substitute, until, absent, NOW - timedelta(days=2))
    context = Context(db, FakeClock(NOW))

    async def one_by_one(user_id: int, chat_id: int) -> tuple[set[str], set[int]]:
        roles = set(await org.roles_of(db, user_id, chat_id))
        departments = set(await org.departments_headed_by(db, user_id, chat_id))
        for row in await db.fetchall("SELECT user_id FROM absences WHERE chat_id = ? AND substitute_id = ? "
                                     "AND until > ?", (chat_id, user_id, org.to_db(NOW))):
            roles |= await org.roles_of(db, row["user_id"], chat_id) - {org.ADMIN_ROLE}
            departments |= await org.departments_headed_by(db, row["user_id"], chat_id)
        return roles, departments

    compared = 0
    for g in groups:
        for p in people:
            actor = await context.actor(p, g)
            assert (set(actor.roles), set(actor.departments)) == await one_by_one(p, g), (p, g)
            compared += bool(actor.roles)
    assert compared > 10  # the random organisation gave most people something to compare
