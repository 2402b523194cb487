import re

from container.ids import random_hex, random_urlsafe


def test_shapes():
    assert re.fullmatch(r"[0-9a-f]{16}", random_hex(8))
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", random_urlsafe(16))


def test_no_repeats_across_pool_refills():
    tokens = {random_urlsafe(16) for _ in range(2000)}  # 32 KB: several 4 KiB refills
    assert len(tokens) == 2000
