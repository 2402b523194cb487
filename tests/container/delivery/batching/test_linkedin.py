"""LinkedIn: single creates merged into BATCH_CREATE, per-element verdicts."""

from __future__ import annotations

import orjson
import pytest

from container.delivery.batching import Answer, LinkedInPolicy
from fake_platforms import FakePlatforms
from tests.container.delivery.support import exchange, item, linkedin_request, merged
from tests.fake_platforms.payloads import NOW_MS

POLICY = LinkedInPolicy()


@pytest.fixture
def fakes() -> FakePlatforms:
    return FakePlatforms(clock=lambda: NOW_MS)


def conversions(*fields: dict) -> list:
    return [item(linkedin_request(**f), id=i, platform="linkedin") for i, f in enumerate(fields)]


def test_one_row_stays_a_single_create(fakes: FakePlatforms) -> None:
    (queued,) = conversions({})
    entries, request = merged(POLICY, queued)
    assert request.body == queued.body
    assert "X-RestLi-Method" not in request.headers
    answer = exchange(fakes, request)
    assert answer.status == 201
    assert POLICY.read(answer, entries) == [("sent", None)]


def test_rows_become_a_batch_create_the_fake_accepts(fakes: FakePlatforms) -> None:
    entries, request = merged(POLICY, *conversions({"eventId": "a"}, {"eventId": "b"}))
    assert request.headers["X-RestLi-Method"] == "BATCH_CREATE"
    assert [e["eventId"] for e in orjson.loads(request.body)["elements"]] == ["a", "b"]
    answer = exchange(fakes, request)
    assert answer.status == 200
    assert POLICY.read(answer, entries) == [("sent", None)] * 2
    assert [e["event_id"] for e in fakes.events("linkedin")] == ["a", "b"]


def test_a_row_already_in_batch_form_is_sent_alone() -> None:
    url, headers, body = linkedin_request()
    batch = item((url, {**headers, "X-RestLi-Method": "BATCH_CREATE"}, {"elements": [body]}))
    assert POLICY.entry(batch).key is None


def test_the_invalid_element_is_dead_the_others_go_again(fakes: FakePlatforms) -> None:
    bad_user = {"userIds": [{"idType": "EMAIL", "idValue": "x"}]}
    entries, request = merged(POLICY, *conversions({}, {"user": bad_user}, {}))
    verdicts = POLICY.read(exchange(fakes, request), entries)
    assert [v.outcome for v in verdicts] == ["split", "dead", "split"]
    assert verdicts[1].reason == (
        'LinkedIn: ERROR :: /user/userIds/0/idType :: "EMAIL" is not an enum symbol'
    )


def test_conversions_outside_the_window_are_named_by_index(fakes: FakePlatforms) -> None:
    late = {"conversionHappenedAt": NOW_MS - 91 * 86_400_000}
    entries, request = merged(POLICY, *conversions(late, {}, late))
    verdicts = POLICY.read(exchange(fakes, request), entries)
    assert [v.outcome for v in verdicts] == ["dead", "split", "dead"]
    assert verdicts[0].reason.startswith("LinkedIn: Conversion time should be within 90 days")


def test_an_unknown_rule_names_no_element_so_the_batch_is_split(fakes: FakePlatforms) -> None:
    unknown = {"conversion": "urn:lla:llaPartnerConversion:999"}
    entries, request = merged(POLICY, *conversions({}, unknown))
    verdicts = POLICY.read(exchange(fakes, request), entries)
    assert verdicts == [("split", "LinkedIn 403: No ad accounts found")] * 2


def test_per_element_statuses_in_a_batch_answer() -> None:
    entries = [POLICY.entry(i) for i in conversions({}, {}, {})]
    body = {"elements": [{"status": 201},
                         {"status": 400, "error": {"message": "duplicate eventId"}},
                         {"status": 503}]}  # fmt: skip
    verdicts = POLICY.read(Answer(200, orjson.dumps(body).decode()), entries)
    assert verdicts == [
        ("sent", None),
        ("dead", "LinkedIn element status 400: duplicate eventId"),
        ("retry", "LinkedIn element status 503: "),
    ]


@pytest.mark.parametrize(("mode", "outcome"), [("rate_limit", "retry"), ("auth", "dead")])
def test_answers_for_the_whole_batch(fakes, mode, outcome) -> None:
    fakes.fail_next("linkedin", mode)
    entries, request = merged(POLICY, *conversions({}, {}))
    assert [v.outcome for v in POLICY.read(exchange(fakes, request), entries)] == [outcome] * 2
