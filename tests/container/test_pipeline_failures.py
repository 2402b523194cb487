"""Failed tag runs in the pipeline: never dropped, each a `FailedRun` carrying its hit.

A template that fails on a hit becomes a `RUN` row whose body is the hit record; the
kinds that depend on the machine (`deadline`, `host`) get a retry time, the others are
dead at once. A tag that keeps blowing its limits is quarantined and stops running.
`rerun` runs one tag again on a stored record and must give what a normal run gives.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from config.schema import apply_defaults
from config.storage import RUN_DESTINATION, RUN_METHOD, FailedRun
from container.pipeline import CompiledContainer, PipelineResult, RerunError
from container.quarantine import STRIKES
from container.tag_failures import RETRY_DELAYS_MS, HitRecord, read_record
from tags.event import template_event
from tags.limits import CAPS
from tags.runtime import TemplateRuntime
from tests.container.secret_lookups import Secrets
from tests.helpers import hit_record, make_document, make_hit

T0 = 1_800_000_000_000
EVENT_ID = make_hit()["event_id"]


def template(ident: str, lua: str, **meta: Any) -> dict[str, Any]:
    return {"id": ident, "lua": lua, "permissions": {}, **meta}


def tag(ident: str, template_id: str, **fields: Any) -> dict[str, Any]:
    return {"id": ident, "name": ident, "template": template_id, "params": {},
            "firing_triggers": ["leads"], **fields}  # fmt: skip


# Sends two requests built from the hit; its secret lookup is where a `host` failure
# comes from (and its call count shows the template ran).
FLAKY = template(
    "flaky",
    'local token = secret("token")\n'
    'local body = {event = event.get("event"), event_id = event.get("event_id"),\n'
    '              value = event.get("data.value"), received = event.get("server.received_ms"),\n'
    "              has_token = token ~= nil}\n"
    'send_http{url = "https://hooks.example.com/a", body = body}\n'
    'send_http{url = "https://hooks.example.com/b", body = body}\n',
    params={"token": {"type": "secret", "required": True}},
    permissions={
        "read_event_data": ["event", "event_id", "data.value", "server.received_ms"],
        "send_http": [{"url": "https://hooks.example.com/a"},
                      {"url": "https://hooks.example.com/b"}],
        "secrets": ["token"],
    },
)  # fmt: skip
BROKEN = template("broken", "local t = nil\nlocal y = t.field\n")
SPIN = template(
    "spin",
    'local token = secret("token")\nwhile true do end\n',
    params={"token": {"type": "secret", "required": True}},
    permissions={"secrets": ["token"]},
    limits={"instructions": 5000},
)


def document(*tags: dict[str, Any], templates: tuple[dict[str, Any], ...] = (),
             **hook: Any) -> dict[str, Any]:  # fmt: skip
    """make_document's webhook tag `hook` (firing on leads), plus `tags` and `templates`."""
    doc = make_document(**hook)
    doc["tags"].extend(tags)
    doc["templates"] = list(templates)
    return doc


def compiled(
    doc: dict[str, Any], runtime: TemplateRuntime | None = None, version: int | None = None
) -> CompiledContainer:
    return CompiledContainer.compile(
        apply_defaults(doc), runtime or TemplateRuntime(), version=version
    )


def lead(**wire: Any) -> Any:
    return hit_record(make_hit(**wire), event_time_ms=T0 - 5_000, received_ms=T0,
                      cookies={"_fbp": "fb.1.1.1"})  # fmt: skip


def run(container: CompiledContainer, hit: Any) -> PipelineResult:
    result = PipelineResult()
    container.run(hit, result)
    return result


def only_failure(result: PipelineResult) -> FailedRun:
    (failure,) = result.failures
    return failure


# --- what a failure is --------------------------------------------------------------------


def test_a_lua_error_is_a_dead_runtime_failure_naming_its_line() -> None:
    container = compiled(document(tag("broken", "broken"), templates=(BROKEN,)))
    result = run(container, lead())
    failure = only_failure(result)
    assert failure.kind == "runtime"
    assert failure.error.startswith("broken:2: attempt to index a nil value"), failure.error
    assert failure.next_attempt_at is None  # deterministic: dead at once
    row = failure.row
    assert (row.container_id, row.tag_id, row.platform) == ("shop", "broken", "broken")
    assert (row.method, row.destination, row.url, row.dedup_key) == (
        RUN_METHOD, RUN_DESTINATION, "", None)  # fmt: skip
    assert (row.event_name, row.event_id, row.event_time_ms) == ("lead", EVENT_ID, T0 - 5_000)
    assert (row.lead_id, row.value, row.currency, row.held) == ("L-1001", 50.0, "EUR", False)
    # the hit's other tag still ran
    assert [r.tag_id for r in result.rows] == ["hook"]
    assert orjson.loads(result.rows[0].body)["event_id"] == EVENT_ID


def test_a_template_over_its_budget_is_a_dead_budget_failure() -> None:
    spin = template("spin", "while true do end", limits={"instructions": 1000})
    container = compiled(document(tag("spin", "spin"), templates=(spin,)))
    result = run(container, lead())
    failure = only_failure(result)
    assert (failure.kind, failure.next_attempt_at) == ("budget", None)
    assert "budget of 1000 units" in failure.error
    assert [r.tag_id for r in result.rows] == ["hook"]


def test_a_deadline_failure_is_retried() -> None:
    # A safety net of 0 ms stops the spinning template at the hook's first clock check,
    # long before its (capped, huge) cost budget: no timing involved. The webhook tag
    # is off, it would hit the same net.
    spin = template("spin", "while true do end", limits={"instructions": CAPS.instructions})
    doc = document(tag("spin", "spin"), templates=(spin,), enabled=False)
    container = compiled(doc, TemplateRuntime(deadline_ms=0))
    failure = only_failure(run(container, lead()))
    assert failure.kind == "deadline"
    assert failure.next_attempt_at == T0 + RETRY_DELAYS_MS[0]
    assert failure.row.tag_id == "spin"


def test_a_host_failure_is_retried_and_the_other_tags_still_run() -> None:
    secrets = Secrets(fail=True)
    container = compiled(
        document(tag("flaky", "flaky", params={"token": "t"}), templates=(FLAKY,)),
        TemplateRuntime(secrets),
    )
    result = run(container, lead())
    failure = only_failure(result)
    assert failure.kind == "host"
    assert "RuntimeError: vault unreachable" in failure.error
    assert failure.next_attempt_at == T0 + RETRY_DELAYS_MS[0]
    assert (failure.row.tag_id, failure.row.event_id) == ("flaky", EVENT_ID)
    assert secrets.calls == 1
    assert [r.tag_id for r in result.rows] == ["hook"]


def test_a_failure_at_an_unmatched_or_refused_tag_never_happens() -> None:
    """Only tags that fire and are allowed run, so only they can fail."""
    container = compiled(document(tag("broken", "broken"), templates=(BROKEN,)))
    assert run(container, lead(event="page_view")).failures == []
    denied = run(container, lead(consent={"ad_storage": "denied"}))
    # the webhook needs ad_storage; `broken` declares no consent and still fails
    assert (denied.rows, [f.row.tag_id for f in denied.failures]) == ([], ["broken"])


# --- quarantine ---------------------------------------------------------------------------


def test_a_tag_that_keeps_blowing_its_budget_is_quarantined_and_no_longer_run() -> None:
    secrets = Secrets()
    doc = document(tag("spin", "spin", params={"token": "t"}), templates=(SPIN,))
    container = compiled(doc, TemplateRuntime(secrets))
    for strike in range(STRIKES):
        failure = only_failure(run(container, lead()))
        assert (failure.kind, failure.next_attempt_at) == ("budget", None)
        assert not failure.error.startswith("quarantined")
        assert secrets.calls == strike + 1  # it ran
    (entry,) = container.quarantine.snapshot()
    assert (entry["tag"], entry["kind"]) == ("spin", "budget")
    assert "budget" in str(entry["reason"])

    result = run(container, lead())
    failure = only_failure(result)
    assert secrets.calls == STRIKES  # not run again
    assert failure.error.startswith("quarantined: the tag kept failing with budget")
    assert failure.kind == "limit"
    assert failure.next_attempt_at is None  # a budget quarantine is not retried
    assert (failure.row.tag_id, failure.row.event_id) == ("spin", EVENT_ID)
    assert [r.tag_id for r in result.rows] == ["hook"]  # the other tag is not held back

    # a stored run of it is refused too, without running
    with pytest.raises(RerunError) as refused:
        container.rerun("spin", read_record(failure.row.body), PipelineResult())
    assert refused.value.kind == "limit"
    assert refused.value.message.startswith("quarantined")
    assert secrets.calls == STRIKES

    # a new version starts with a clean slate
    assert compiled(doc, TemplateRuntime(secrets), version=2).quarantine.snapshot() == []


def test_failures_of_other_kinds_never_quarantine() -> None:
    container = compiled(document(tag("broken", "broken"), templates=(BROKEN,)))
    for _ in range(STRIKES + 2):
        assert only_failure(run(container, lead())).kind == "runtime"
    assert container.quarantine.snapshot() == []


# --- the stored hit and running it again ----------------------------------------------------


def test_the_hit_record_in_the_row_body_round_trips() -> None:
    secrets = Secrets(fail=True)
    container = compiled(
        document(tag("flaky", "flaky", params={"token": "t"}, fire_once="lead_id"),
                 templates=(FLAKY,)),
        TemplateRuntime(secrets),
    )  # fmt: skip
    hit = lead()
    failure = only_failure(run(container, hit))
    record = read_record(failure.row.body)
    assert record == HitRecord(
        "live", template_event(hit), {"_fbp": "fb.1.1.1"}, T0, "lead", EVENT_ID, T0 - 5_000,
        "lead_id:L-1001", "L-1001", 50.0, "EUR",
    )  # fmt: skip
    assert record.encode() == failure.row.body


@pytest.mark.parametrize("fire_once", ["event_id", "lead_id", "transaction_id", "none"])
def test_rerun_with_a_fixed_version_gives_what_a_normal_run_gives(fire_once: str) -> None:
    doc = document(tag("flaky", "flaky", params={"token": "t"}, fire_once=fire_once),
                   templates=(FLAKY,))  # fmt: skip
    hit = lead(data={"value": 80, "currency": "USD", "lead_id": "L-7", "transaction_id": "T-1"})
    broken = compiled(doc, TemplateRuntime(Secrets(fail=True)), version=1)
    failure = only_failure(run(broken, hit))

    fixed_secrets = Secrets()
    fixed = compiled(doc, TemplateRuntime(fixed_secrets), version=2)
    again = PipelineResult()
    fixed.rerun("flaky", read_record(failure.row.body), again)
    assert fixed_secrets.calls == 1
    assert (again.failures, again.pixels, again.cookies) == ([], [], [])

    normal = [row for row in run(fixed, hit).rows if row.tag_id == "flaky"]
    assert again.rows == normal
    assert [row.url for row in again.rows] == ["https://hooks.example.com/a",
                                               "https://hooks.example.com/b"]  # fmt: skip
    key = {"event_id": f"event_id:{EVENT_ID}", "lead_id": "lead_id:L-7",
           "transaction_id": "transaction_id:T-1", "none": None}[fire_once]  # fmt: skip
    assert [row.dedup_key for row in again.rows] == [key, None if key is None else f"{key}#1"]
    for row in again.rows:
        assert (row.event_name, row.event_id, row.event_time_ms) == ("lead", EVENT_ID, T0 - 5_000)
        assert (row.lead_id, row.value, row.currency) == ("L-7", 80.0, "USD")
        assert orjson.loads(row.body) == {"event": "lead", "event_id": EVENT_ID, "value": 80,
                                          "received": T0, "has_token": True}  # fmt: skip


def test_rerun_raises_when_the_tag_is_gone_or_fails_again() -> None:
    secrets = Secrets(fail=True)
    doc = document(tag("flaky", "flaky", params={"token": "t"}), templates=(FLAKY,))
    container = compiled(doc, TemplateRuntime(secrets), version=3)
    record = read_record(only_failure(run(container, lead())).row.body)

    with pytest.raises(RerunError) as again:
        container.rerun("flaky", record, PipelineResult())
    assert again.value.kind == "host"
    assert "vault unreachable" in again.value.message

    without = compiled(make_document(), version=4)
    result = PipelineResult()
    with pytest.raises(RerunError) as gone:
        without.rerun("flaky", record, result)
    assert gone.value.kind == "runtime"
    assert "'flaky' is not in version 4" in gone.value.message
    assert result.rows == []


# --- firing_tags --------------------------------------------------------------------------


def test_firing_tags_are_the_tags_that_ended_as_rows_or_failures() -> None:
    doc = document(
        tag("broken", "broken"),
        tag("personal", "broken", consent={"gcm": ["ad_personalization"]}),  # denied
        tag("elsewhere", "broken", firing_triggers=["tests"]),  # does not match a lead
        tag("spin", "spin", params={"token": "t"}),
        templates=(BROKEN, SPIN),
    )
    container = compiled(doc, TemplateRuntime(Secrets()))
    for hit in (lead(), lead(event="test_lead"), lead(consent={"ad_storage": "denied"})):
        result = run(container, hit)
        produced = {row.tag_id for row in result.rows} | {f.row.tag_id for f in result.failures}
        assert set(container.firing_tags(hit)) == produced
    assert container.firing_tags(lead()) == ["hook", "broken", "spin"]
    assert container.firing_tags(lead(event="test_lead")) == ["elsewhere"]
    assert container.firing_tags(lead(consent={"ad_storage": "denied"})) == ["broken", "spin"]
