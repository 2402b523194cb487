from config.settings import load_settings
from container.guards import Guards

T0 = 1_800_000_000_000


def test_defaults_turn_every_guard_on():
    guards = Guards.from_settings(load_settings({}), T0)
    assert guards.bots is not None
    assert guards.rates.per_ip.per_minute == 600
    assert guards.rates.per_client.per_minute == 120
    assert (guards.spikes.multiple, guards.spikes.min_events) == (10, 100)
    assert (guards.value.value_max, guards.value.policy) == (100_000, "block")
    assert guards.value.judge("shop", "evt-00000001", 10, "USD", currency_default="EUR") is True


def test_settings_turn_guards_off_or_change_them():
    settings = load_settings(
        {
            "TAGWIRE_BOT_FILTER": "off",
            "TAGWIRE_MAX_HITS_PER_IP_MINUTE": "0",
            "TAGWIRE_MAX_HITS_PER_CLIENT_MINUTE": "0",
            "TAGWIRE_SPIKE_MULTIPLE": "3",
            "TAGWIRE_SPIKE_MIN_EVENTS": "20",
            "TAGWIRE_VALUE_MAX": "500",
            "TAGWIRE_VALUE_POLICY": "flag",
        }
    )
    guards = Guards.from_settings(settings, T0)
    assert guards.bots is None
    assert (guards.rates.per_ip, guards.rates.per_client) == (None, None)
    assert (guards.spikes.multiple, guards.spikes.min_events) == (3, 20)
    assert (guards.value.value_max, guards.value.policy) == (500, "flag")
    assert guards.value.judge("shop", "evt-00000001", 501, "EUR", currency_default=None) is False
