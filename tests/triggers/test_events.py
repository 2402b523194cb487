import pytest

from triggers.events import EventTrigger


@pytest.mark.parametrize(
    ("events", "event", "expected"),
    [
        (["lead"], "lead", True),
        (["lead"], "lead_qualified", False),
        (["lead", "purchase"], "purchase", True),
        (["*"], "anything", True),
        (["test_*"], "test_purchase", True),
        (["test_*"], "purchase", False),
        (["a_*", "b"], "b", True),
    ],
)
def test_matches(events, event, expected):
    assert EventTrigger.compile("t", events).matches(event) is expected
