import numpy as np
import pytest

from helpers.intervals import paired_difference, wilson


def test_a_wilson_interval_holds_its_rate_and_narrows_with_more_items():
    low, high = wilson(85, 100)
    assert low < 0.85 < high
    low4, high4 = wilson(340, 400)
    assert high4 - low4 == pytest.approx((high - low) / 2, rel=0.05)  # four times the items, half the width
    assert wilson(0, 50)[0] == 0 and 0 < wilson(0, 50)[1] < 0.1  # no negative rates at the edges


def test_a_wilson_interval_covers_the_true_rate_about_95_times_in_100():
    rng = np.random.default_rng(0)
    draws = rng.binomial(300, 0.9, size=2_000)
    covered = np.mean([lo <= 0.9 <= hi for lo, hi in (wilson(int(k), 300) for k in draws)])
    assert 0.93 < covered < 0.97


@pytest.mark.parametrize("successes, n", [(5, 0), (-1, 10), (11, 10)])
def test_impossible_counts_are_refused(successes, n):
    with pytest.raises(ValueError, match="successes"):
        wilson(successes, n)


def test_a_paired_difference_rests_on_the_items_where_the_two_disagree():
    a = [True] * 90 + [False] * 10
    assert paired_difference(a, a) == (0.0, 0.0, 0.0)  # the same answers: no gap, no doubt
    b = [True] * 88 + [False] * 2 + [True] * 6 + [False] * 4  # 6 gained, 2 lost
    gap, low, high = paired_difference(a, b)
    assert gap == pytest.approx(0.04) and low < 0 < high  # 4 reviews in 100 are not enough to say "beats"
    gap, low, high = paired_difference(a * 10, b * 10)
    assert gap == pytest.approx(0.04) and 0 < low < gap < high


def test_a_paired_difference_needs_two_equal_lists():
    with pytest.raises(ValueError, match="equally long"):
        paired_difference([True, False], [True])
