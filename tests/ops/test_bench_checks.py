"""The benchmark's own checks must be able to fail, or its "no duplicates" means nothing."""

from __future__ import annotations

from bench.checks import Holding, overlapping_holdings, percentile


def test_overlap_check_reports_two_pods_holding_one_address_at_once():
    holdings = [
        Holding(pod="a", ip="10.0.0.5", require_answered=1.0, release_sent=3.0),
        Holding(pod="b", ip="10.0.0.6", require_answered=1.5, release_sent=2.0),
        Holding(pod="c", ip="10.0.0.5", require_answered=2.5, release_sent=4.0),  # while a holds it
    ]
    clashes = overlapping_holdings(holdings)
    assert [(x.pod, y.pod) for x, y in clashes] == [("a", "c")]


def test_overlap_check_reports_a_clash_hidden_behind_a_short_hold():
    holdings = [
        Holding(pod="a", ip="10.0.0.5", require_answered=1.0, release_sent=9.0),
        Holding(pod="b", ip="10.0.0.5", require_answered=2.0, release_sent=3.0),
        Holding(pod="c", ip="10.0.0.5", require_answered=4.0, release_sent=5.0),
    ]
    assert len(overlapping_holdings(holdings)) == 2


def test_overlap_check_accepts_an_address_handed_on_after_release():
    holdings = [
        Holding(pod="a", ip="10.0.0.5", require_answered=1.0, release_sent=2.0),
        Holding(pod="b", ip="10.0.0.5", require_answered=2.5, release_sent=3.0),
        Holding(pod="a", ip="10.0.0.6", require_answered=1.0, release_sent=5.0),
    ]
    assert overlapping_holdings(holdings) == []


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 0.5), percentile(values, 0.99), percentile(values, 1.0)) == (50.0, 99.0, 100.0)
    assert percentile([], 0.5) == 0.0
