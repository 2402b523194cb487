import orjson

from config.schema import apply_defaults
from container.pipeline import CompiledContainer, PipelineResult
from tags.runtime import TemplateRuntime
from tests.helpers import make_document, make_hit
from variables.hit import Hit

RUNTIME = TemplateRuntime()


def hit(**overrides):
    wire = make_hit(**overrides)
    return Hit("shop", wire["event"], wire["event_id"], wire, 1, 2, "203.0.113.5", "ua", None,
               False, "t", {}, [])  # fmt: skip


def compiled(doc):
    container = CompiledContainer.compile(apply_defaults(doc), RUNTIME)

    class Runner:
        def run(self, h):
            result = PipelineResult()
            container.run(h, result)
            return result.rows

    return Runner()


def test_fired_tag_becomes_an_outbox_row():
    (row,) = compiled(make_document()).run(hit())
    assert (row.container_id, row.tag_id, row.destination) == ("shop", "hook", "hooks.example.com")
    assert row.url == "https://hooks.example.com/tagwire"
    assert orjson.loads(row.body)["event"] == "Lead"
    assert row.dedup_key == "event_id:0b8f7a1e-7c2d-4f7b-9a51-3e0c2b9d6f10"


def test_row_carries_what_delivery_and_history_need():
    (row,) = compiled(make_document()).run(hit())
    assert (row.platform, row.event_time_ms, row.held) == ("webhook", 1, False)
    assert (row.lead_id, row.value, row.currency) == ("L-1001", 50.0, "EUR")
    assert type(row.value) is float


def test_row_facts_absent_or_of_another_type_are_none():
    (row,) = compiled(make_document()).run(hit(data={"lead_id": "", "value": "50", "currency": 1}))
    assert (row.lead_id, row.value, row.currency) == (None, None, None)
    (row,) = compiled(make_document()).run(hit(data={"lead_id": 42, "value": 9.5}))
    assert (row.lead_id, row.value, row.currency) == ("42", 9.5, None)


def test_trigger_not_matching_fires_nothing():
    assert compiled(make_document()).run(hit(event="page_view")) == []


def test_blocking_trigger_wins():
    doc = make_document(firing_triggers=["everything"], blocking_triggers=["tests"])
    assert compiled(doc).run(hit(event="test_lead")) == []
    assert len(compiled(doc).run(hit(event="purchase"))) == 1


def test_consent_is_enforced_server_side():
    denied = {"ad_storage": "denied", "analytics_storage": "granted"}
    assert compiled(make_document()).run(hit(consent=denied)) == []
    assert compiled(make_document()).run(hit(consent={})) == []


def test_disabled_tag_never_fires():
    assert compiled(make_document(enabled=False)).run(hit()) == []


def test_fire_once_scopes():
    by_lead = compiled(make_document(fire_once="lead_id")).run(hit())[0]
    assert by_lead.dedup_key == "lead_id:L-1001"
    no_lead = compiled(make_document(fire_once="lead_id")).run(
        hit(data={"value": 1, "currency": "EUR"})
    )[0]
    assert no_lead.dedup_key.startswith("event_id:")
    by_tx = compiled(make_document(fire_once="transaction_id")).run(
        hit(data={"transaction_id": "T-9"})
    )[0]
    assert by_tx.dedup_key == "transaction_id:T-9"


def test_fire_once_none_has_no_key():
    assert compiled(make_document(fire_once="none")).run(hit())[0].dedup_key is None


FLOOR_TEMPLATE = {
    "id": "ads_hook",
    "lua": 'send_http{url = "https://hooks.example.com/tagwire", body = {e = event.get("event")}}',
    "permissions": {"read_event_data": ["event"],
                    "send_http": [{"url": "https://hooks.example.com/tagwire"}]},
    "consent": {"gcm": ["ad_user_data"]},
}  # fmt: skip


def test_template_consent_is_a_floor_the_tag_cannot_lower():
    doc = make_document(template="ads_hook", params={}, consent={"gcm": ["ad_storage"]})
    doc["templates"] = [FLOOR_TEMPLATE]
    runner = compiled(doc)
    only_storage = {"ad_storage": "granted", "ad_user_data": "denied"}
    assert runner.run(hit(consent=only_storage)) == []
    assert runner.run(hit(consent={"ad_user_data": "granted"})) == []
    both = {"ad_storage": "granted", "ad_user_data": "granted"}
    (row,) = runner.run(hit(consent=both))
    assert row.platform == "ads_hook"  # a document's own template is named by its id


def test_template_consent_applies_to_a_tag_that_declares_none():
    doc = make_document(template="ads_hook", params={}, consent={"gcm": []})
    doc["templates"] = [FLOOR_TEMPLATE]
    assert compiled(doc).run(hit(consent={"ad_storage": "granted"})) == []
    assert len(compiled(doc).run(hit(consent={"ad_user_data": "granted"}))) == 1


def test_action_source_reaches_the_template():
    doc = make_document(template="src", params={}, consent={"gcm": []})
    doc["templates"] = [{
        "id": "src",
        "lua": 'send_http{url = "https://hooks.example.com/tagwire", '
               'body = {s = event.get("server.action_source")}}',
        "permissions": {"read_event_data": ["server.action_source"],
                        "send_http": [{"url": "https://hooks.example.com/tagwire"}]},
    }]  # fmt: skip
    web = hit(consent={"ad_storage": "granted"})
    assert orjson.loads(compiled(doc).run(web)[0].body) == {"s": "website"}
    web.action_source = "phone_call"
    assert orjson.loads(compiled(doc).run(web)[0].body) == {"s": "phone_call"}
