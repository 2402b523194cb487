"""A tag parameter that references the hit is resolved per hit, checked as a static one
is, and resolved again when a failed run runs again."""

from __future__ import annotations

import orjson

from config.schema import apply_defaults, validate_document
from container.pipeline import CompiledContainer, PipelineResult
from container.tag_failures import HitRecord, read_record
from tags.event import template_event
from tags.runtime import TemplateRuntime
from tests.helpers import make_document, make_hit
from variables.hit import Hit

KIND = {
    "id": "kind",
    "name": "Page kind",
    "type": "lookup",
    "params": {"input": "page.path", "map": {"/thanks": "confirmation"}, "default": "other"},
}


def document(**params: object) -> dict:
    doc = make_document()
    doc["variables"] = [KIND]
    doc["tags"][0]["params"].update(params)
    return doc


def hit(**overrides: object) -> Hit:
    wire = make_hit(**overrides)
    return Hit(
        "shop",
        wire["event"],
        wire["event_id"],
        wire,
        1,
        2,
        "203.0.113.5",
        "ua",
        None,
        False,
        "t",
        {},
        [],
    )


def run(doc: dict, h: Hit) -> PipelineResult:
    container = CompiledContainer.compile(apply_defaults(doc), TemplateRuntime())
    result = PipelineResult()
    container.run(h, result)
    return result


def test_a_variable_in_a_parameter_reaches_the_request():
    doc = document(
        url="https://hooks.example.com/in/{{var.kind}}", event_names={"lead": "{{var.kind}}-lead"}
    )
    assert validate_document(doc) == []
    thanks = run(doc, hit(page={"url": "https://www.example.com/thanks"}))
    other = run(doc, hit(page={"url": "https://www.example.com/other"}))
    assert thanks.rows[0].url == "https://hooks.example.com/in/confirmation"
    assert orjson.loads(thanks.rows[0].body)["event"] == "confirmation-lead"
    assert other.rows[0].url == "https://hooks.example.com/in/other"


def test_an_unknown_reference_is_a_document_error_naming_the_parameter():
    issues = validate_document(document(url="https://hooks.example.com/{{var.nope}}"))
    assert [(i.path, i.reason) for i in issues] == [
        ("tags[0].params.url", "{{var.nope}}: unknown variable 'nope'")
    ]


def test_a_resolved_value_of_the_wrong_type_fails_the_run_and_keeps_it():
    doc = document(include_client="{{data.value}}")  # a number where a boolean belongs
    assert validate_document(doc) == []
    result = run(doc, hit())
    assert result.rows == []
    [failure] = result.failures
    assert failure.kind == "params"
    assert "include_client" in failure.error
    assert failure.next_attempt_at is None  # deterministic: dead, replayable once fixed


def test_a_run_again_resolves_the_references_again_from_the_stored_hit():
    doc = document(url="https://hooks.example.com/in/{{var.kind}}")
    container = CompiledContainer.compile(apply_defaults(doc), TemplateRuntime())
    h = hit(page={"url": "https://www.example.com/thanks"})
    record = HitRecord(
        "live",
        template_event(h),
        {},
        h.received_ms,
        h.event,
        h.event_id,
        h.event_time_ms,
        None,
        None,
        None,
        None,
    )
    result = PipelineResult()
    container.rerun("hook", read_record(record.encode()), result)
    assert result.rows[0].url == "https://hooks.example.com/in/confirmation"
