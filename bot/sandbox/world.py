"""Who plays in the sandbox: an organisation for the chosen profile, written as an organisation file.

Every role of the profile gets one person (the first role that routes incidents — the coordinator — is also
the bot's administrator), and four departments get a head each, holding the profile's answering role. The
file is imported with the bot's own ``org import`` code, so the sandbox starts as a deployer's bot would.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from bot.sandbox import ORG_FILE_MARK
from profiles.events import Action
from profiles.schema import Profile
from storage.org import ADMIN_ROLE


@dataclass(frozen=True)
class Persona:
    user_id: int
    first_name: str
    last_name: str
    patronymic: str
    username: str
    roles: tuple[str, ...]  # profile role ids (plus "admin")
    department: str | None = None  # code of the department he heads

    @property
    def full_name(self) -> str:
        return f"{self.last_name} {self.first_name} {self.patronymic}"


@dataclass(frozen=True)
class Department:
    code: str
    name: str
    territorial: bool


DEPARTMENTS = (
    Department("zhkh", "Управление жилищно-коммунального хозяйства", False),
    Department("roads", "Отдел дорожного хозяйства и транспорта", False),
    Department("education", "Управление образования", False),
    Department("north", "Северный территориальный отдел", True),
)
# (first name, last name, patronymic, username)
_HEADS = (
    ("Пётр", "Петров", "Петрович", "petrov_pp"),
    ("Сергей", "Сидоров", "Иванович", "sidorov_si"),
    ("Мария", "Кузнецова", "Алексеевна", "kuznetsova_ma"),
    ("Андрей", "Волков", "Николаевич", "volkov_an"),
)
_OTHERS = (
    ("Анна", "Иванова", "Сергеевна", "ivanova_as"),
    ("Дмитрий", "Смирнов", "Олегович", "smirnov_do"),
    ("Игорь", "Фёдоров", "Павлович", "fedorov_ip"),
    ("Ольга", "Николаева", "Викторовна", "nikolaeva_ov"),
    ("Алексей", "Морозов", "Игоревич", "morozov_ai"),
    ("Татьяна", "Егорова", "Петровна", "egorova_tp"),
    ("Виктор", "Павлов", "Андреевич", "pavlov_va"),
    ("Елена", "Орлова", "Викторовна", "orlova_ev"),
)


def head_role(profile: Profile) -> str:
    """The role department heads hold: the first role that answers in its own right."""
    own = [rid for rid, r in profile.roles.items() if Action.ANSWER in r.can]
    return own[0] if own else profile.roles_with(Action.ANSWER)[0]


def coordinator_role(profile: Profile) -> str:
    """The role that routes incidents (the coordinator in Izobilny), else the first that takes them in."""
    for action in (Action.ROUTE, Action.INTAKE):
        own = [rid for rid, r in profile.roles.items() if action in r.can]
        if own:
            return own[0]
    return next(iter(profile.roles))


def cast(profile: Profile) -> list[Persona]:
    """The people, the coordinator first, then the other roles in the profile's order, then the heads."""
    heads = head_role(profile)
    first = coordinator_role(profile)
    others = [first] + [rid for rid in profile.roles if rid not in (first, heads)]
    people = []
    for i, role in enumerate(others):
        first_name, last_name, patronymic, username = _OTHERS[i % len(_OTHERS)]
        roles = (role, ADMIN_ROLE) if role == first else (role,)
        people.append(Persona(100001 + i, first_name, last_name, patronymic, username, roles))
    for i, (department, (first_name, last_name, patronymic, username)) in enumerate(zip(DEPARTMENTS, _HEADS,
                                                                                         strict=True)):
        people.append(Persona(200001 + i, first_name, last_name, patronymic, username, (heads,), department.code))
    return people


def org_file(profile: Profile, people: list[Persona]) -> str:
    """The organisation file (TOML) for ``python -m bot org import``: the same format a deployer writes."""
    q = json.dumps  # a TOML basic string is a JSON string for these texts
    lines = [f"{ORG_FILE_MARK}, made by bot/sandbox/world.py for the profile below.",
             f"profile = {q(profile.id)}", f"head_role = {q(head_role(profile))}", ""]
    for d in DEPARTMENTS:
        lines += ["[[departments]]", f"code = {q(d.code)}", f"name = {q(d.name)}",
                  f"territorial = {'true' if d.territorial else 'false'}", "heads = ["]
        lines += [f"    {{ user_id = {p.user_id}, name = {q(p.full_name)}, username = {q(p.username)} }},"
                  for p in people if p.department == d.code]
        lines += ["]", ""]
    for p in people:
        if p.department is None:
            lines += ["[[people]]", f"user_id = {p.user_id}", f"name = {q(p.full_name)}",
                      f"username = {q(p.username)}", f"roles = [{', '.join(q(r) for r in p.roles)}]", ""]
    return "\n".join(lines)
