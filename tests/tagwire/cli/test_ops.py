"""`tagwire outbox status|replay|release|purge` and `tagwire history` on a real SQLite store.

The store is filled through the Store API (see ops_fixtures for its rows) and the
commands run through `tagwire.cli.main`, as the installed `tagwire` does.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from admin_ui.history import HISTORY_FIELDS
from config.sqlite_store import SQLiteStore
from tests.container.ops_fixtures import filled_database, now_ms, states
from tests.helpers import isolate_settings
from tests.helpers import run_cli as run

ROOT = Path(__file__).parents[3]
ALL_STATES = {"evt-F-0001": "dead", "evt-A-0001": "sent", "evt-B-0001": "dead",
              "evt-C-0001": "dead", "evt-D-0001": "held", "evt-E-0001": "pending"}  # fmt: skip


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    isolate_settings(monkeypatch, tmp_path)
    return filled_database(tmp_path / "tagwire.db")


def audit_lines(err: str) -> list[dict]:
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    return [line for line in lines if line["logger"] == "tagwire.audit"]


@pytest.mark.parametrize(
    "command",
    [["outbox"], ["outbox", "status"], ["outbox", "replay"], ["outbox", "release"],
     ["outbox", "purge"], ["history"]],
)  # fmt: skip
def test_every_command_has_help(command, capsys):
    code, out, _ = run(capsys, *command, "--help")
    assert code == 0
    assert "usage: tagwire" in out


# --- status ---------------------------------------------------------------------------


def test_status_table_counts_rows_per_container_tag_and_state(db, capsys):
    code, out, _ = run(capsys, "outbox", "status")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["container", "tag", "pending", "inflight", "sent", "failed",
                                "dead", "held", "total"]  # fmt: skip
    assert lines[1].split() == ["blog", "meta", "0", "0", "0", "0", "1", "0", "1"]
    assert lines[2].split() == ["shop", "hook", "1", "0", "0", "0", "1", "1", "3"]
    assert lines[3].split() == ["shop", "meta", "0", "0", "1", "0", "1", "0", "2"]
    assert lines[4].split() == ["total", "1", "0", "1", "0", "3", "1", "6"]


def test_status_json_and_filters(db, capsys):
    code, out, _ = run(capsys, "outbox", "status", "--json", "--container", "shop")
    assert code == 0
    report = json.loads(out)
    assert [(t["container"], t["tag"], t["total"]) for t in report["tags"]] == [
        ("shop", "hook", 3),
        ("shop", "meta", 2),
    ]
    assert report["tags"][0]["states"] == {"pending": 1, "inflight": 0, "sent": 0,
                                           "failed": 0, "dead": 1, "held": 1}  # fmt: skip
    assert report["totals"]["total"] == 5
    for flags, total in [(["--tag", "hook"], 3), (["--platform", "meta"], 3),
                         (["--event", "purchase"], 2), (["--lead-id", "L-2"], 1),
                         (["--since", "2d"], 5), (["--until", "2d"], 1),
                         (["--container", "nope"], 0)]:  # fmt: skip
        code, out, _ = run(capsys, "outbox", "status", "--json", *flags)
        assert code == 0
        assert json.loads(out)["totals"]["total"] == total, flags


def test_status_with_nothing_matching_says_so(db, capsys):
    assert run(capsys, "outbox", "status", "--tag", "nope")[1] == "no outbox rows match\n"


def test_commands_refuse_a_missing_database(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TAGWIRE_DATA_DIR", str(tmp_path / "elsewhere"))
    code, _, err = run(capsys, "outbox", "status")
    assert code == 1
    assert f"no database at {tmp_path / 'elsewhere' / 'tagwire.db'}" in err
    assert not (tmp_path / "elsewhere").exists()


# --- replay ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "count"),
    [([], 3), (["--container", "shop"], 2), (["--tag", "hook"], 1),
     (["--platform", "meta"], 2), (["--event", "purchase"], 1), (["--lead-id", "L-2"], 1),
     (["--since", "2d"], 2), (["--until", "2d"], 1), (["--state", "failed"], 0),
     (["--state", "dead", "--state", "failed"], 3),
     (["--since", "2000-01-01", "--until", "2099-01-01T00:00:00+01:00"], 3)],
)  # fmt: skip
def test_replay_dry_run_counts_per_filter_and_changes_nothing(db, capsys, flags, count):
    code, out, err = run(capsys, "outbox", "replay", "--dry-run", *flags)
    assert code == 0
    rows = "1 row" if count == 1 else f"{count} rows"
    assert out == f"dry run: {rows} would be replayed (now pending); nothing changed\n"
    assert states(db) == ALL_STATES
    [line] = audit_lines(err)
    assert line["action"] == "outbox replay"
    assert line["dry_run"] is True
    assert line["rows"] == count
    assert stored_audit(db) == []  # a dry run changes nothing, so the store records nothing


def stored_audit(db: Path) -> list[tuple[str, str | None, dict]]:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT action, container_id, detail FROM audit ORDER BY id").fetchall()
    finally:
        conn.close()
    return [(action, container, json.loads(detail)) for action, container, detail in rows]


def test_replay_makes_dead_rows_pending_and_audits(db, capsys):
    code, out, err = run(capsys, "outbox", "replay", "--container", "shop", "--tag", "meta")
    assert code == 0
    assert out == "1 row replayed (now pending)\n"
    assert states(db) == {**ALL_STATES, "evt-B-0001": "pending"}
    [line] = audit_lines(err)
    assert line["who"]
    assert line["via"] == "cli"
    assert line["filters"] == {"container": "shop", "tag": "meta", "state": ["dead"]}
    assert (line["dry_run"], line["rows"]) == (False, 1)
    filters = {"container": "shop", "tag": "meta", "state": ["dead"]}
    assert stored_audit(db) == [("outbox.replay", "shop", {"via": "cli", "filters": filters,
                                                             "rows": 1})]  # fmt: skip
    code, out, _ = run(capsys, "outbox", "replay")
    assert out == "2 rows replayed (now pending)\n"
    assert set(states(db).values()) == {"sent", "held", "pending"}


# --- release --------------------------------------------------------------------------


def test_release_makes_held_rows_pending(db, capsys):
    code, out, _ = run(capsys, "outbox", "release", "--dry-run", "--tag", "hook")
    assert (code, out) == (0, "dry run: 1 row would be released (now pending); nothing changed\n")
    assert states(db) == ALL_STATES
    assert run(capsys, "outbox", "release", "--tag", "meta")[1] == "0 rows released (now pending)\n"
    code, out, err = run(capsys, "outbox", "release", "--container", "shop")
    assert (code, out) == (0, "1 row released (now pending)\n")
    assert states(db) == {**ALL_STATES, "evt-D-0001": "pending"}
    assert audit_lines(err)[0]["action"] == "outbox release"


# --- purge ----------------------------------------------------------------------------


def test_purge_needs_a_time_bound_or_all(db, capsys):
    code, _, err = run(capsys, "outbox", "purge")
    assert code == 2
    assert "--before" in err
    assert "--all" in err
    code, _, err = run(capsys, "outbox", "purge", "--all", "--before", "1d")
    assert code == 2
    assert states(db) == ALL_STATES


def test_purge_before_deletes_old_finished_rows_with_their_history(db, capsys):
    code, out, _ = run(capsys, "outbox", "purge", "--before", "2d", "--dry-run")
    assert out == "dry run: 1 row would be purged; nothing changed\n"
    assert states(db) == ALL_STATES
    code, out, err = run(capsys, "outbox", "purge", "--before", "2d")
    assert (code, out) == (0, "1 row purged\n")
    assert "evt-F-0001" not in states(db)
    _, out, _ = run(capsys, "history", "--container", "blog", "--format", "json")
    assert json.loads(out) == []
    [line] = audit_lines(err)
    assert line["action"] == "outbox purge"
    assert set(line["filters"]) == {"before"}


def test_purge_all_never_touches_unfinished_rows(db, capsys):
    assert run(capsys, "outbox", "purge", "--all", "--state", "sent")[:2] == (
        0,
        "1 row purged\n",
    )
    assert run(capsys, "outbox", "purge", "--all")[:2] == (0, "3 rows purged\n")
    assert states(db) == {"evt-D-0001": "held", "evt-E-0001": "pending"}


@pytest.mark.parametrize("state", ["pending", "inflight", "failed", "held"])
def test_purge_refuses_unfinished_states(db, capsys, state):
    code, _, err = run(capsys, "outbox", "purge", "--all", "--state", state)
    assert code == 2
    assert "argument --state: invalid choice" in err
    assert states(db) == ALL_STATES


# --- history --------------------------------------------------------------------------


def history(capsys, *flags: str) -> list[dict]:
    code, out, _ = run(capsys, "history", "--format", "json", *flags)
    assert code == 0
    return json.loads(out)


def test_history_json_has_one_object_per_attempt(db, capsys):
    entries = history(capsys)
    assert [(e["event_id"], e["attempt"], e["outcome"]) for e in entries] == [
        ("evt-E-0001", 0, "pending"),
        ("evt-D-0001", 0, "held"),
        ("evt-C-0001", 2, "dead"),
        ("evt-C-0001", 1, "failed"),
        ("evt-B-0001", 1, "dead"),
        ("evt-A-0001", 1, "sent"),
        ("evt-F-0001", 1, "dead"),
    ]
    sent = entries[5]
    assert list(sent) == list(HISTORY_FIELDS)
    assert {k: sent[k] for k in ("container", "tag", "platform", "destination", "event",
                                  "lead_id", "value", "currency", "status", "response")} == {
        "container": "shop", "tag": "meta", "platform": "meta",
        "destination": "graph.facebook.com", "event": "lead", "lead_id": "L-1",
        "value": 50.0, "currency": "EUR", "status": 200,
        "response": '{"events_received": 1}'}  # fmt: skip
    assert sent["time"].endswith("Z")
    assert entries[0]["status"] is None


@pytest.mark.parametrize(
    ("flags", "expected"),
    [(["--container", "blog"], ["F1"]), (["--tag", "meta"], ["B1", "A1", "F1"]),
     (["--platform", "webhook"], ["E0", "D0", "C2", "C1"]),
     (["--event", "purchase"], ["E0", "B1"]), (["--lead-id", "L-1"], ["A1"]),
     (["--since", "2d"], ["E0", "D0", "C2", "C1", "B1", "A1"]), (["--until", "2d"], ["F1"]),
     (["--status", "503"], ["C1"]), (["--status", "400"], ["B1", "F1"]),
     (["--outcome", "dead"], ["C2", "B1", "F1"]), (["--outcome", "failed"], ["C1"]),
     (["--outcome", "sent"], ["A1"]), (["--outcome", "held"], ["D0"]),
     (["--outcome", "pending"], ["E0"]), (["--outcome", "dead", "--status", "500"], ["C2"]),
     (["--limit", "2"], ["E0", "D0"]), (["--outcome", "dead", "--limit", "2"], ["C2", "B1"])],
)  # fmt: skip
def test_history_filters(db, capsys, flags, expected):
    got = [e["event_id"][4] + str(e["attempt"]) for e in history(capsys, *flags)]
    assert got == expected


def test_history_csv_parses_with_a_header(db, capsys):
    code, out, _ = run(capsys, "history", "--format", "csv", "--tag", "hook")
    assert code == 0
    reader = csv.DictReader(io.StringIO(out))
    assert tuple(reader.fieldnames or ()) == HISTORY_FIELDS
    rows = list(reader)
    assert [(r["event_id"], r["attempt"], r["status"], r["outcome"]) for r in rows] == [
        ("evt-E-0001", "0", "", "pending"),
        ("evt-D-0001", "0", "", "held"),
        ("evt-C-0001", "2", "500", "dead"),
        ("evt-C-0001", "1", "503", "failed"),
    ]
    assert rows[3]["response"] == "busy\nretry later"  # quoted by the csv module


def test_history_table_one_line_per_attempt(db, capsys):
    code, out, _ = run(capsys, "history", "--container", "shop", "--tag", "hook")
    assert code == 0
    header, *lines = out.splitlines()
    assert header.split() == ["time", "container", "tag", "platform", "destination", "event",
                              "event_id", "lead_id", "value", "currency", "attempt", "status",
                              "outcome", "response"]  # fmt: skip
    assert len(lines) == 4
    assert lines[3].split()[1:] == ["shop", "hook", "webhook", "hooks.example.com", "lead",
                                    "evt-C-0001", "L-2", "-", "-", "1", "503", "failed",
                                    "busy", "retry", "later"]  # fmt: skip
    assert run(capsys, "history", "--tag", "nope")[1] == "no history matches\n"


# --- bad arguments ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "named"),
    [(["outbox", "status", "--since", "yesterday"], "--since"),
     (["outbox", "replay", "--until", "2026-13-01"], "--until"),
     (["outbox", "replay", "--state", "sent"], "--state"),
     (["outbox", "purge", "--before", "soon"], "--before"),
     (["outbox", "release", "--container", ""], "--container"),
     (["history", "--limit", "0"], "--limit"), (["history", "--limit", "many"], "--limit"),
     (["history", "--status", "99"], "--status"), (["history", "--format", "xml"], "--format"),
     (["history", "--outcome", "lost"], "--outcome"),
     (["history", "--since", "1h", "--until", "2h"], "--since")],
)  # fmt: skip
def test_bad_arguments_exit_2_naming_the_argument(db, capsys, argv, named):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert named in err
    assert "Traceback" not in err
    assert out == ""


# --- next to a running node -------------------------------------------------------------


def test_commands_run_next_to_a_node_that_holds_the_database(db, capsys):
    """The node keeps its store open and a reader sits in a transaction: the CLI's short
    transactions still go through, and the node's sender sees the replayed row."""
    loop = asyncio.new_event_loop()
    node = SQLiteStore(db)
    loop.run_until_complete(node.open())
    reader = sqlite3.connect(db)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT COUNT(*) FROM outbox").fetchone()
        assert run(capsys, "outbox", "replay", "--tag", "hook")[:2] == (
            0,
            "1 row replayed (now pending)\n",
        )
        assert json.loads(run(capsys, "outbox", "status", "--json")[1])["totals"]["total"] == 6
        claimed = loop.run_until_complete(node.claim(10, now_ms()))
        assert {item.tag_id for item in claimed} == {"hook"}
        assert len(claimed) == 2  # the replayed row and the one never tried
    finally:
        reader.rollback()
        reader.close()
        loop.run_until_complete(node.close())
        loop.close()


# --- a real process ---------------------------------------------------------------------


def test_the_installed_command_runs_in_its_own_process(db):
    env = {**os.environ, "TAGWIRE_DATA_DIR": str(db.parent)}
    status = subprocess.run(
        [sys.executable, "-m", "tagwire", "outbox", "status", "--json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["totals"]["total"] == 6
    replay = subprocess.run(
        [sys.executable, "-m", "tagwire", "outbox", "replay", "--lead-id", "L-2"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert (replay.returncode, replay.stdout) == (0, "1 row replayed (now pending)\n")
    [line] = audit_lines(replay.stderr)
    assert line["filters"] == {"lead_id": "L-2", "state": ["dead"]}
    assert states(db)["evt-C-0001"] == "pending"
    bad = subprocess.run(
        [sys.executable, "-m", "tagwire", "history", "--since", "last week"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert bad.returncode == 2
    assert "argument --since" in bad.stderr


def test_audit_lines_are_written_at_any_log_level(db, capsys, monkeypatch):
    monkeypatch.setenv("TAGWIRE_LOG_LEVEL", "error")
    code, _, err = run(capsys, "outbox", "release", "--dry-run")
    assert code == 0
    [line] = audit_lines(err)
    assert (line["level"], line["action"], line["rows"]) == ("info", "outbox release", 1)
