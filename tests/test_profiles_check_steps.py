"""`python -m bot profiles check` rejects a profile that declares a step or an outcome nobody could take:
one line per problem, ``FILE: KEY: REASON``, exit code 2."""

import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main

ROOT = Path(__file__).resolve().parents[1]
IZOBILNY = (ROOT / "profiles" / "izobilny.toml").read_text(encoding="utf-8")
COORDINATOR_CAN = 'can = ["intake", "route", "correct", "publish", "clarify", "close", "report"]'


def changed(tmp_path: Path, *edits: tuple[str, str]) -> Path:
    text = IZOBILNY
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / "changed.toml"
    path.write_text(text, encoding="utf-8")
    return path


def check(capsys, path: Path) -> tuple[int, list[str]]:
    code = main(["profiles", "check", str(path)])
    out, _ = capsys.readouterr()
    return code, [line for line in out.splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("edits", "key", "reason"),
    [
        ([(COORDINATOR_CAN, COORDINATOR_CAN.replace(' "close",', ""))],
         "workflow.outcomes", "no role has the 'close' action"),
        ([(COORDINATOR_CAN, COORDINATOR_CAN.replace(' "clarify",', "")),
          ('outcomes = ["not_processed", "not_competent"]',
           'outcomes = ["not_processed", "not_competent"]\nclarifications = true')],
         "workflow.clarifications", "no role has the 'clarify' action"),
        ([('start = ["detected", "returned"]\nstop = ["routed", "closed"]',
           'start = ["detected", "returned"]\nstop = ["clarification_received", "closed"]')],
         "timers[0] (route).stop", "no role can take any step that meets this deadline (clarification_received)"),
        ([('start = "intermediate_published"\nstop = ["draft_submitted", "closed"]',
           'start = ["intermediate_published", "explanation_needed"]\nstop = ["draft_submitted", "closed"]')],
         "timers[8] (final_answer).start", "'explanation_needed'"),
        ([('outcomes = ["not_processed", "not_competent"]',
           'outcomes = ["not_processed", "not_competent"]\njoint_answer_by = "editor"')],
         "workflow.joint_answer_by", "unknown role 'editor'"),
        ([("[calendar]", '[buttons.approv]\nlabel = "👍"\n\n[calendar]')],
         "buttons.approv", "unknown step"),
        ([("[calendar]", '[buttons."close.formal_appeal"]\nlabel = "📄 59-ФЗ"\n\n[calendar]')],
         "buttons.close.formal_appeal", "formal_appeal"),
        ([("[calendar]", '[buttons.clarify]\nlabel = "❓"\n\n[calendar]')],
         "buttons.clarify", "clarifications"),
    ],
    ids=["outcomes-without-close", "clarifications-without-clarify", "stop-nobody-causes", "explanation-nobody-needs",
         "joint-answer-unknown-role", "unknown-button", "button-for-an-undeclared-outcome",
         "button-for-an-undeclared-step"],
)
def test_check_rejects_a_step_nobody_could_take(capsys, tmp_path, edits, key, reason):
    path = changed(tmp_path, *edits)
    code, lines = check(capsys, path)
    assert code == 2
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{path}: {key}: "), lines[0]
    assert reason in lines[0], lines[0]


def test_every_shipped_profile_and_testgrad_pass(capsys):
    paths = [*sorted((ROOT / "profiles").glob("*.toml")), ROOT / "tests" / "data" / "profiles" / "testgrad.toml"]
    code = main(["profiles", "check", *map(str, paths)])
    out, _ = capsys.readouterr()
    assert code == 0, out
    assert out.count(": ok (") == len(paths) == 6


def test_a_real_process_exits_2_naming_the_file_key_and_why(tmp_path):
    path = changed(tmp_path, (COORDINATOR_CAN, COORDINATOR_CAN.replace(' "close",', "")))
    result = subprocess.run([sys.executable, "-m", "bot", "profiles", "check", str(path)],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stdout.strip() == (f"{path}: workflow.outcomes: no role has the 'close' action to end an incident "
                                     "this way")
