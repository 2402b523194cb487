"""`tagwire outbox status|replay|release|purge` and `tagwire history`: the outbox for operators.

Each command opens the node's store from the settings, runs one short transaction through
the actions the admin API runs too (`admin_ui.outbox_ops`, `admin_ui.history`), so it is
safe next to a running node, and prints a table, or JSON/CSV for scripts. Bad arguments
are argparse errors (exit 2, naming the argument).
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from admin_ui.filters import check_text
from admin_ui.history import HISTORY_FIELDS, history, history_record
from admin_ui.outbox_ops import PURGE_STATES, REPLAY_STATES, OutboxOps
from admin_ui.times import now_ms, parse_time
from config.settings import Settings
from config.storage import STATES, OutboxFilter, Store
from tagwire.cli.common import (
    UsageError,
    argument_type,
    cli_actor,
    out,
    subcommands,
    table,
    with_store,
)

__all__ = ["add_history_command", "add_outbox_commands"]

DEFAULT_LIMIT = 100
MAX_LIMIT = 1_000_000
RESPONSE_COLUMN = 40  # characters of a platform's answer in the history table


def _time(text: str) -> int:
    return parse_time(text, now_ms())


def _bounded(low: int, high: int, what: str) -> Callable[[str], int]:
    def number(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"{text!r} is not {what} ({low} to {high})") from None
        if not low <= value <= high:
            raise ValueError(f"{value} is not {what} ({low} to {high})")
        return value

    return number


def _add_filters(parser: argparse.ArgumentParser, *, until: tuple[str, ...] = ("--until",)) -> None:
    text = argument_type(check_text)
    when = argument_type(_time)
    parser.add_argument("--container", type=text, metavar="ID", help="only this container")
    parser.add_argument("--tag", type=text, metavar="ID", help="only this tag")
    parser.add_argument(
        "--platform",
        type=text,
        metavar="NAME",
        help="only this platform (template name: meta, webhook, ...)",
    )
    parser.add_argument("--event", type=text, metavar="NAME", help="only this event name")
    parser.add_argument("--lead-id", type=text, metavar="ID", help="only this lead id")
    parser.add_argument(
        "--since",
        type=when,
        metavar="TIME",
        help="rows queued at or after TIME: ISO 8601 (2026-12-01T10:00:00Z, "
        "2026-12-01; UTC without an offset) or an age (30m, 2h, 7d)",
    )
    parser.add_argument(
        *until,
        dest="until",
        type=when,
        metavar="TIME",
        help="rows queued before TIME (same forms as --since)",
    )


def _add_dry_run(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dry-run", action="store_true", help="only count the rows; change nothing"
    )


def _filter(args: argparse.Namespace, states: tuple[str, ...] = ()) -> OutboxFilter:
    if args.since is not None and args.until is not None and args.since >= args.until:
        raise UsageError("--since must be earlier than --until/--before")
    return OutboxFilter(
        container_id=args.container,
        tag_id=args.tag,
        platform=args.platform,
        event_name=args.event,
        lead_id=args.lead_id,
        states=states,
        since_ms=args.since,
        until_ms=args.until,
    )


def _rows(count: int) -> str:
    return f"{count} row" if count == 1 else f"{count} rows"


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


def _status(args: argparse.Namespace, settings: Settings) -> int:
    filter = _filter(args)
    report = with_store(settings, lambda store: OutboxOps(store).status(filter))
    if args.json:
        out(_json(report))
    elif not report["tags"]:
        out("no outbox rows match")
    else:
        rows = [
            [
                item["container"],
                item["tag"],
                *(str(item["states"][s]) for s in STATES),
                str(item["total"]),
            ]
            for item in report["tags"]
        ]
        totals = report["totals"]
        rows.append(
            ["total", "", *(str(totals["states"][s]) for s in STATES), str(totals["total"])]
        )
        out(table(["container", "tag", *STATES, "total"], rows, set(range(2, len(STATES) + 3))))
    return 0


def _change(
    args: argparse.Namespace,
    settings: Settings,
    verb: str,
    run: Callable[[OutboxOps], Awaitable[int]],
) -> int:
    """Run one changing action and say how many rows it touched (or would)."""

    async def work(store: Store) -> int:
        return await run(OutboxOps(store))

    count = with_store(settings, work)
    if args.dry_run:
        out(f"dry run: {_rows(count)} would be {verb}; nothing changed")
    else:
        out(f"{_rows(count)} {verb}")
    return 0


def _replay(args: argparse.Namespace, settings: Settings) -> int:
    filter = _filter(args, tuple(args.state or ()))
    return _change(
        args,
        settings,
        "replayed (now pending)",
        lambda ops: ops.replay(filter, args.dry_run, cli_actor()),
    )


def _release(args: argparse.Namespace, settings: Settings) -> int:
    filter = _filter(args)
    return _change(
        args,
        settings,
        "released (now pending)",
        lambda ops: ops.release(filter, args.dry_run, cli_actor()),
    )


def _purge(args: argparse.Namespace, settings: Settings) -> int:
    if args.until is None and not args.all:
        raise UsageError(
            "purge needs --before TIME (rows queued before it), or --all to purge finished "
            "rows of any age"
        )
    if args.until is not None and args.all:
        raise UsageError("--all purges rows of any age; leave out --before, or --all")
    filter = _filter(args, tuple(args.state or ()))
    return _change(
        args,
        settings,
        "purged",
        lambda ops: ops.purge(filter, args.all, args.dry_run, cli_actor()),
    )


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return str(int(value)) if value.is_integer() else str(value)


def _cell(value: object) -> str:
    return "-" if value is None or value == "" else str(value)


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= RESPONSE_COLUMN else flat[: RESPONSE_COLUMN - 1] + "…"


def _history(args: argparse.Namespace, settings: Settings) -> int:
    filter = _filter(args)

    async def work(store: Store) -> list[dict[str, Any]]:
        entries = await history(store, filter, args.limit, status=args.status, outcome=args.outcome)
        return [history_record(entry) for entry in entries]

    records = with_store(settings, work)
    if args.format == "json":
        out(_json(records))
    elif args.format == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=HISTORY_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
        sys.stdout.flush()
    elif not records:
        out("no history matches")
    else:
        # The table shows the record's fields up to the answer; JSON and CSV have them all.
        headers = list(HISTORY_FIELDS[: HISTORY_FIELDS.index("response") + 1])
        rows = [
            [
                r["time"][:19] + "Z",
                r["container"],
                r["tag"],
                _cell(r["platform"]),
                r["destination"],
                r["event"],
                r["event_id"],
                _cell(r["lead_id"]),
                _number(r["value"]),
                _cell(r["currency"]),
                str(r["attempt"]),
                _cell(r["status"]),
                r["outcome"],
                _cell(_short(r["response"])),
            ]
            for r in records
        ]
        out(table(headers, rows, {8, 10, 11}))
    return 0


def add_outbox_commands(commands: Any) -> None:
    """Register `tagwire outbox status|replay|release|purge` on the top-level subparsers."""
    outbox = commands.add_parser(
        "outbox",
        help="inspect and repair the outbox: status, replay, release, purge",
        description="Inspect and repair the outbox of the node's database "
        "(TAGWIRE_DATA_DIR). Safe while the node runs. See docs/operations.md.",
    )
    actions = subcommands(outbox, "outbox_command")

    status = actions.add_parser(
        "status",
        help="rows per container, tag and state",
        description="Count outbox rows per container, tag and state.",
    )
    _add_filters(status)
    status.add_argument("--json", action="store_true", help="print JSON instead of a table")
    status.set_defaults(run=_status)

    replay = actions.add_parser(
        "replay",
        help="send dead (or failed) rows again",
        description="Make matching dead rows pending again (attempts back to 0, due now); "
        "the sender sends them within about a second. Fix the cause first.",
    )
    _add_filters(replay)
    replay.add_argument(
        "--state",
        action="append",
        choices=REPLAY_STATES,
        help="rows in this state (repeatable; default: dead)",
    )
    _add_dry_run(replay)
    replay.set_defaults(run=_replay)

    release = actions.add_parser(
        "release",
        help="send rows the spike guard held",
        description="Make matching held rows (stopped by the volume spike guard) pending.",
    )
    _add_filters(release)
    _add_dry_run(release)
    release.set_defaults(run=_release)

    purge = actions.add_parser(
        "purge",
        help="delete finished (sent, dead) rows and their history",
        description="Delete matching sent and dead rows with their firing history. Pending, "
        "inflight, failed and held rows are never purged. Needs --before TIME, or --all "
        "for every age. Fire-once keys stay until they expire.",
    )
    _add_filters(purge, until=("--before", "--until"))
    purge.add_argument(
        "--state",
        action="append",
        choices=PURGE_STATES,
        help="rows in this state (repeatable; default: sent and dead)",
    )
    purge.add_argument(
        "--all", action="store_true", help="purge whatever their age (instead of --before)"
    )
    _add_dry_run(purge)
    purge.set_defaults(run=_purge)


def add_history_command(commands: Any) -> None:
    """Register `tagwire history` on the top-level subparsers."""
    command = commands.add_parser(
        "history",
        help="the firing history: every send attempt",
        description="One line per send attempt (and per row not tried yet), newest row "
        "first. --since/--until select rows by the time they were queued.",
    )
    _add_filters(command)
    command.add_argument(
        "--status",
        type=argument_type(_bounded(100, 599, "an HTTP status")),
        metavar="CODE",
        help="only attempts answered with this HTTP status",
    )
    command.add_argument(
        "--outcome",
        choices=STATES,
        help="only attempts with this outcome (pending/held: not tried yet)",
    )
    command.add_argument(
        "--limit",
        type=argument_type(_bounded(1, MAX_LIMIT, "a limit")),
        default=DEFAULT_LIMIT,
        metavar="N",
        help=f"at most N lines (default {DEFAULT_LIMIT})",
    )
    command.add_argument(
        "--format",
        choices=("table", "json", "csv"),
        default="table",
        help="table (default), json (a list of objects) or csv (with a header)",
    )
    command.set_defaults(run=_history)
