"""How long a job waits: the rate limit headers, Retry-After, and backing off."""

from __future__ import annotations

import pytest

from backups.api.models import RateLimit
from fleet.pacing import MAX_CONSECUTIVE_FAILURES, Pacer

NOW = 1_800_000_000.0


def test_no_wait_while_the_window_has_more_than_the_reserve():
    assert Pacer().after_answer(RateLimit(limit=1000, remaining=51, reset=int(NOW) + 30), NOW) == 0


def test_at_the_reserve_it_waits_for_the_reset():
    assert Pacer().after_answer(RateLimit(limit=1000, remaining=50, reset=int(NOW) + 30), NOW) == 30


@pytest.mark.parametrize("reset", [NOW - 5, NOW + 3600])
def test_a_reset_the_clock_cannot_place_leaves_it_to_retry_after(reset):
    assert Pacer().after_answer(RateLimit(limit=1000, remaining=0, reset=int(reset)), NOW) == 0


def test_retry_after_is_honoured_and_repeated_refusals_back_off():
    pacer = Pacer()
    assert pacer.after_refusal(20) == 20
    assert [pacer.after_refusal(None) for _ in range(3)] == [2, 4, 8]
    assert not pacer.exhausted


def test_an_answer_resets_the_backoff_and_enough_failures_exhaust_it():
    pacer = Pacer()
    pacer.after_refusal(None)
    pacer.after_answer(None, NOW)
    assert pacer.after_refusal(None) == 1
    for _ in range(MAX_CONSECUTIVE_FAILURES):
        pacer.after_refusal(None)
    assert pacer.exhausted
