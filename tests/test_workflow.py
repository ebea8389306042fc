"""The workflow core with plain values: states, permissions and the timers each step moves."""

import tomllib
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.workflow import (
    AcceptPart,
    Actor,
    Approve,
    ClarificationReceived,
    Close,
    Decision,
    Incident,
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
    decide,
    open_incident,
)
from profiles.events import Outcome
from profiles.loader import load_profile
from profiles.schema import Profile

MSK = ZoneInfo("Europe/Moscow")
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=MSK)  # a Monday
IZ = load_profile("izobilny")

COORD = Actor(1, frozenset({"coordinator"}))
SUBST = Actor(2, frozenset({"substitute"}))
HEAD_A = Actor(10, frozenset({"executor"}), frozenset({100}))
HEAD_B = Actor(11, frozenset({"executor"}), frozenset({101}))
CONTROLLER = Actor(5, frozenset({"controller"}))
STRANGER = Actor(99)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def ok(result: Decision | Refusal) -> Decision:
    assert isinstance(result, Decision), result
    return result


def due(incident: Incident, timer_id: str, dep: int | None = None) -> str:
    t = incident.timer(timer_id, dep)
    assert t is not None, f"{timer_id} is not running: {[x.key for x in incident.timers]}"
    return t.due_at.strftime("%H:%M")


def routed(source: str = "vk", detected: int = -10, deps: tuple[int, ...] = (100,)) -> Incident:
    inc = open_incident(IZ, 1, source, at(detected), at(0)).incident
    return ok(decide(IZ, inc, Route(deps), COORD, at(0))).incident


def variant(**changes) -> Profile:
    raw = tomllib.loads((Path(__file__).parents[1] / "profiles" / "izobilny.toml").read_text("utf-8"))
    for key, value in changes.items():
        raw[key] = value
    return Profile.model_validate(raw)


def test_intake_starts_the_routing_timer_from_detection():
    d = open_incident(IZ, 1, "vk", at(-10), at(0))
    assert d.incident.state is State.NEW and d.events == ("detected",)
    assert due(d.incident, "route") == "10:20"  # п. 6.2: 30 min from detection
    gov = open_incident(IZ, 2, "governor_tg", at(-10), at(0)).incident
    assert gov.track == "governor" and due(gov, "route") == "10:50"  # п. 6.3: 1 h


def test_routing_stops_the_route_timer_and_starts_answers():
    inc = open_incident(IZ, 1, "vk", at(-40), at(0)).incident
    d = ok(decide(IZ, inc, Route((100, 101)), COORD, at(0)))
    assert d.incident.state is State.ASSIGNED
    [stopped] = d.stopped
    assert stopped.timer.timer_id == "route" and stopped.late_by == timedelta(minutes=10)
    assert due(d.incident, "answer") == "13:00"
    assert due(d.incident, "part", 101) == "13:00"  # the co-executor's own 3 h
    assert d.incident.timer("part", 100) is None  # the lead has no part


def test_governor_track_deadlines():
    inc = routed(source="governor_tg")
    assert due(inc, "answer") == "11:30"  # п. 6.3: 1.5 h
    inc = ok(decide(IZ, inc, SubmitDraft(), HEAD_A, at(20))).incident
    assert due(inc, "publish") == "10:50"  # 30 min after the answer


@pytest.mark.parametrize(
    ("actor", "command"),
    [
        (STRANGER, Route((100,))),
        (HEAD_A, Route((100,))),
        (CONTROLLER, Route((100,))),
    ],
)
def test_only_the_coordinator_or_substitute_routes(actor, command):
    inc = open_incident(IZ, 1, "vk", at(0), at(0)).incident
    r = decide(IZ, inc, command, actor, at(0))
    assert isinstance(r, Refusal) and "только" in r.reason
    assert ok(decide(IZ, inc, command, SUBST, at(0))).incident.state is State.ASSIGNED


def test_only_the_lead_head_submits_the_draft():
    inc = routed(deps=(100, 101))
    assert isinstance(decide(IZ, inc, SubmitDraft(), HEAD_B, at(5)), Refusal)
    assert isinstance(decide(IZ, inc, SubmitDraft(), STRANGER, at(5)), Refusal)
    assert ok(decide(IZ, inc, SubmitDraft(), HEAD_A, at(5))).incident.state is State.REVIEW


def test_co_executor_part_stops_only_their_timer():
    inc = routed(deps=(100, 101))
    assert isinstance(decide(IZ, inc, SubmitPart(101), HEAD_A, at(5)), Refusal)  # not A's department
    d = ok(decide(IZ, inc, SubmitPart(101), HEAD_B, at(30)))
    assert [s.timer.key for s in d.stopped] == [("part", 101)]
    assert d.incident.timer("answer") is not None
    assert isinstance(decide(IZ, d.incident, SubmitPart(101), HEAD_B, at(31)), Refusal)  # twice
    assert ok(decide(IZ, d.incident, AcceptPart(101), COORD, at(40))).events == ("part_accepted",)


def test_rework_twice_keeps_the_original_answer_deadline():
    inc = routed()
    for n in range(2):
        inc = ok(decide(IZ, inc, SubmitDraft(), HEAD_A, at(60 + n * 60))).incident
        assert inc.state is State.REVIEW and due(inc, "publish") == f"{11 + n}:30"
        assert isinstance(decide(IZ, inc, RequestRework("  "), COORD, at(70)), Refusal)  # no comment
        d = ok(decide(IZ, inc, RequestRework("Уточните сроки ремонта"), COORD, at(70 + n * 60)))
        inc = d.incident
        assert inc.state is State.REWORK
        assert due(inc, "answer") == "13:00"  # п. 6.2: still 3 h from routing
        assert inc.timer("publish") is None
    inc = ok(decide(IZ, inc, SubmitDraft(), HEAD_A, at(200))).incident
    d = ok(decide(IZ, inc, Approve(), COORD, at(205)))
    assert d.incident.state is State.APPROVED and d.events == ("approved:chief", "approved")
    d = ok(decide(IZ, d.incident, Publish(), COORD, at(210)))
    assert d.incident.state is State.CLOSED and d.incident.outcome is Outcome.PUBLISHED
    assert d.incident.timers == ()
    assert [s.late_by for s in d.stopped] == [timedelta(0)]


def test_a_late_answer_is_measured():
    inc = routed()
    d = ok(decide(IZ, inc, SubmitDraft(), HEAD_A, at(200)))
    [stopped] = [s for s in d.stopped if s.timer.timer_id == "answer"]
    assert stopped.late_by == timedelta(minutes=20)


def test_withdrawn_draft_goes_back_to_work():
    inc = ok(decide(IZ, routed(), SubmitDraft(), HEAD_A, at(30))).incident
    assert isinstance(decide(IZ, inc, WithdrawDraft(), HEAD_B, at(31)), Refusal)
    d = ok(decide(IZ, inc, WithdrawDraft(), HEAD_A, at(35)))
    assert d.incident.state is State.ASSIGNED
    assert due(d.incident, "answer") == "13:00" and d.incident.timer("publish") is None


def test_not_our_competence_returns_to_the_coordinator_for_rerouting():
    inc = routed()
    assert isinstance(decide(IZ, inc, ReturnNotCompetent(""), HEAD_A, at(5)), Refusal)
    assert isinstance(decide(IZ, inc, ReturnNotCompetent("ЖКХ"), HEAD_B, at(5)), Refusal)  # not assigned
    d = ok(decide(IZ, inc, ReturnNotCompetent("Вопрос ЖКХ, не дорожного отдела"), HEAD_A, at(15)))
    assert d.incident.state is State.NEW and d.incident.departments == ()
    assert [t.timer_id for t in d.incident.timers] == ["route"] and due(d.incident, "route") == "10:45"  # re-route
    d = ok(decide(IZ, d.incident, Route((101,)), COORD, at(30)))
    assert d.incident.departments == (101,) and due(d.incident, "answer") == "13:30"  # 3 h from re-routing


def test_not_processed_closes_with_a_reason():
    inc = routed()
    assert isinstance(decide(IZ, inc, Close(Outcome.NOT_PROCESSED, ""), COORD, at(1)), Refusal)
    assert isinstance(decide(IZ, inc, Close(Outcome.NOT_PROCESSED, "мат"), HEAD_A, at(1)), Refusal)
    assert isinstance(decide(IZ, inc, Close(Outcome.FORMAL_APPEAL, "59-ФЗ"), COORD, at(1)), Refusal)  # not in profile
    d = ok(decide(IZ, inc, Close(Outcome.NOT_PROCESSED, "Угрозы должностному лицу"), COORD, at(1)))
    assert d.incident.state is State.CLOSED and d.incident.outcome is Outcome.NOT_PROCESSED
    assert d.incident.timers == () and {s.event for s in d.stopped} == {"closed"}
    r = decide(IZ, d.incident, Route((100,)), COORD, at(2))
    assert isinstance(r, Refusal) and "закрыт" in r.reason


def test_intermediate_then_final_answer():
    inc = ok(decide(IZ, routed(), SubmitDraft(), HEAD_A, at(30))).incident
    inc = ok(decide(IZ, inc, Approve(), COORD, at(40))).incident
    d = ok(decide(IZ, inc, Publish(intermediate=True), COORD, at(50)))
    inc = d.incident
    assert inc.state is State.AWAITING_FINAL
    final = inc.timer("final_answer")
    assert final is not None and final.due_at == datetime(2026, 11, 26, 18, 0, tzinfo=MSK)  # 3 working days
    inc = ok(decide(IZ, inc, SubmitDraft(), HEAD_A, at(60 * 24))).incident
    assert inc.state is State.REVIEW and inc.timer("final_answer") is None
    inc = ok(decide(IZ, inc, Approve(), COORD, at(60 * 24 + 5))).incident
    assert ok(decide(IZ, inc, Publish(), COORD, at(60 * 24 + 10))).incident.outcome is Outcome.PUBLISHED


def test_approval_chain_with_a_checklist_step():
    chain = [
        {"id": "reception", "title": "Проверка", "role": "coordinator", "checklist": ["Приветствие", "Грамотность"]},
        {"id": "deputy", "title": "Согласование", "role": "controller"},
    ]
    p = variant(approval=chain)
    inc = open_incident(p, 1, "vk", at(0), at(0)).incident
    inc = ok(decide(p, inc, Route((100,)), COORD, at(0))).incident
    inc = ok(decide(p, inc, SubmitDraft(), HEAD_A, at(10))).incident
    r = decide(p, inc, Approve(frozenset({"Приветствие"})), COORD, at(11))
    assert isinstance(r, Refusal) and "Грамотность" in r.reason
    assert isinstance(decide(p, inc, Approve(frozenset({"Приветствие", "Грамотность"})), CONTROLLER, at(11)), Refusal)
    d = ok(decide(p, inc, Approve(frozenset({"Приветствие", "Грамотность"})), COORD, at(12)))
    assert d.incident.state is State.REVIEW and d.incident.step == 1 and d.events == ("approved:reception",)
    assert isinstance(decide(p, d.incident, Approve(), COORD, at(13)), Refusal)  # the deputy's step now
    d = ok(decide(p, d.incident, Approve(), CONTROLLER, at(14)))
    assert d.incident.state is State.APPROVED and d.events == ("approved:deputy", "approved")


def test_clarification_pauses_and_resumes_the_answer_timer():
    raw_timers = tomllib.loads((Path(__file__).parents[1] / "profiles" / "izobilny.toml").read_text("utf-8"))["timers"]
    for t in raw_timers:
        if t["id"] == "answer":
            t["pause"], t["resume"] = ["clarification_requested"], ["clarification_received"]
    p = variant(timers=raw_timers, workflow={"outcomes": ["not_processed"], "clarifications": True})
    assert isinstance(decide(IZ, routed(), RequestClarification(), COORD, at(0)), Refusal)  # Izobilny: none
    inc = open_incident(p, 1, "vk", at(0), at(0)).incident
    inc = ok(decide(p, inc, Route((100,)), COORD, at(0))).incident
    d = ok(decide(p, inc, RequestClarification(), COORD, at(60)))  # 2 h left
    assert d.incident.state is State.CLARIFICATION and d.paused[0].remaining == timedelta(hours=2)
    d = ok(decide(p, d.incident, ClarificationReceived("Улица Ленина, 5"), COORD, at(60 * 5)))
    assert d.incident.state is State.ASSIGNED
    assert due(d.incident, "answer") == "17:00"  # 15:00 + the 2 h that were left


def test_handling_a_step_twice_changes_nothing_the_second_time():
    inc = ok(decide(IZ, routed(), SubmitDraft(), HEAD_A, at(30))).incident
    approved = ok(decide(IZ, inc, Approve(), COORD, at(31))).incident
    again = decide(IZ, approved, Approve(), COORD, at(31))
    assert isinstance(again, Refusal)


def test_a_withdrawn_draft_keeps_the_deadline_with_every_pause_and_a_new_routing_counts_afresh():
    """Елец п. 5, 6: the 6 working hours stand while the author is asked (twice here), and a withdrawn draft
    stays in the same deadline; routed again, the deadline counts from the new routing."""
    ye = load_profile("yelets")
    appeals, head = Actor(1, frozenset({"appeals"})), Actor(10, frozenset({"executor"}), frozenset({100}))
    inc = open_incident(ye, 1, "vk", at(0), at(0)).incident
    inc = ok(decide(ye, inc, Route((100,)), appeals, at(0))).incident
    plain = inc.timer("draft").due_at  # 6 working hours from 10:00 Monday: 17:00 (lunch 13-14)
    for start in (30, 120):  # two questions to the author, an hour each
        inc = ok(decide(ye, inc, RequestClarification(), appeals, at(start))).incident
        inc = ok(decide(ye, inc, ClarificationReceived("Второй подъезд"), appeals, at(start + 60))).incident
    paused = inc.timer("draft").due_at
    assert paused > plain
    inc = ok(decide(ye, inc, SubmitDraft(), head, at(200))).incident
    assert inc.timer("draft") is None
    inc = ok(decide(ye, inc, WithdrawDraft(), head, at(210))).incident
    assert inc.timer("draft").due_at == paused
    inc = ok(decide(ye, inc, SubmitDraft(), head, at(220))).incident
    inc = ok(decide(ye, inc, WithdrawDraft(), head, at(230))).incident
    assert inc.timer("draft").due_at == paused  # withdrawn again: still the same
    inc = ok(decide(ye, inc, ReturnNotCompetent("Не наш вопрос"), head, at(235))).incident
    inc = ok(decide(ye, inc, Route((101,)), appeals, at(240))).incident  # routed again: counted from 14:00
    assert inc.timer("draft").started_at == at(240) and inc.timer("draft").due_at < paused + timedelta(days=1)
    assert inc.timer("draft").due_at == ok(decide(ye, open_incident(ye, 2, "vk", at(0), at(0)).incident,
                                                  Route((101,)), appeals, at(240))).incident.timer("draft").due_at
