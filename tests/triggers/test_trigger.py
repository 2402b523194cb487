from tests.helpers import hit_record, make_hit
from triggers.trigger import Trigger, check_trigger_rules
from variables.resolver import Resolver
from variables.user_defined import compile_variable

THANKS = {"/en/thanks": "confirmation", "/de/danke": "confirmation", "/fr/merci": "confirmation"}
ROUTE = compile_variable("lookup", {"input": "page.path", "map": THANKS})

LEAD_ON_CONFIRMATION = {
    "id": "lead_confirmation", "name": "Lead on the confirmation page, every locale",
    "events": ["lead"],
    "conditions": {"var": "var.route", "op": "equals", "value": "confirmation"},
    "exceptions": [{"var": "custom.plan", "op": "equals", "value": "internal"}],
}  # fmt: skip


def fires(trigger, wire):
    hit = hit_record(wire)
    made = []

    def resolver():
        made.append(1)
        return Resolver(hit, {"route": ROUTE})

    return Trigger.compile(trigger).fires(hit.event, resolver), made


def page(path, **extra):
    return make_hit(page={"url": f"https://www.example.com{path}"}, **extra)


def test_one_trigger_covers_every_locale():
    for path in ("/en/thanks", "/de/danke", "/fr/merci"):
        assert fires(LEAD_ON_CONFIRMATION, page(path))[0] is True
    assert fires(LEAD_ON_CONFIRMATION, page("/en/quote"))[0] is False


def test_exception_blocks():
    assert fires(LEAD_ON_CONFIRMATION, page("/en/thanks", custom={"plan": "internal"}))[0] is False


def test_event_mismatch_never_builds_a_resolver():
    result, made = fires(LEAD_ON_CONFIRMATION, page("/en/thanks", event="page_view"))
    assert result is False
    assert made == []


def test_rules_are_checked_with_paths():
    bad = {**LEAD_ON_CONFIRMATION, "conditions": {"var": "var.nope", "op": "exists"},
           "exceptions": "x"}  # fmt: skip
    problems = check_trigger_rules(bad, "triggers[0]", {"route"})
    assert ("triggers[0].conditions.var", "unknown variable 'nope'") in problems
    assert any(p == "triggers[0].exceptions" for p, _ in problems)
