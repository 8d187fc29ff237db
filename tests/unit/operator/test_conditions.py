"""Condition helpers: transition times survive unchanged statuses."""

from __future__ import annotations

from kubetune.operator import conditions


def test_merge_keeps_transition_time_while_status_holds() -> None:
    old = [conditions.make("Ready", True, "Ok", "fine", 1, at="2026-01-01T00:00:00Z")]
    same = conditions.merge(old, [conditions.make("Ready", True, "Ok", "still fine", 2)])
    assert same[0]["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    assert same[0]["observedGeneration"] == 2 and same[0]["message"] == "still fine"
    flipped = conditions.merge(old, [conditions.make("Ready", False, "Broken")])
    assert flipped[0]["lastTransitionTime"] != "2026-01-01T00:00:00Z"


def test_merge_appends_new_types_and_same_ignores_times() -> None:
    merged = conditions.merge([], [conditions.make("A", True, "r"), conditions.make("B", "Unknown", "r")])
    assert [c["type"] for c in merged] == ["A", "B"]
    later = [dict(c, lastTransitionTime="2030-01-01T00:00:00Z") for c in merged]
    assert conditions.same(merged, later)
    assert not conditions.same(merged, merged[:1])
    assert conditions.is_true(merged, "A") and not conditions.is_true(merged, "B")
