"""The mixture SPRT on discordant items: decides real differences, holds alpha otherwise."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import betaln

from nemo_evaluator.stats import SequentialTest
from nemo_evaluator.stats.sequential import log_likelihood_ratio


def test_likelihood_ratio_matches_the_beta_binomial_form() -> None:
    # n = 2, w = 1: B(2, 2) / 0.25 = (1/6) / (1/4) = 2/3
    assert np.exp(log_likelihood_ratio(1, 1)) == pytest.approx(2 / 3)
    assert log_likelihood_ratio(0, 0) == 0.0
    assert np.exp(log_likelihood_ratio(3, 0)) == pytest.approx((1 / 4) / (1 / 8))


def test_decides_b_when_b_wins_far_more_discordant_items() -> None:
    test = SequentialTest(alpha=0.05)
    assert test.update(a_only=5, b_only=8) is None
    assert test.update(a_only=10, b_only=30) == "B"
    assert test.p_value < 0.05
    assert test.update(a_only=30, b_only=30) == "B"  # a decision stands
    with pytest.raises(ValueError):
        test.update(a_only=1, b_only=30)
    other = SequentialTest(alpha=0.05)
    assert other.update(a_only=40, b_only=12) == "A"


def test_type_one_error_stays_below_alpha_with_a_look_after_every_item() -> None:
    rng = np.random.default_rng(11)
    runs, length, alpha = 4000, 400, 0.05
    b_wins = np.cumsum(rng.integers(0, 2, size=(runs, length)), axis=1)
    n = np.arange(1, length + 1)
    log_lr = betaln(b_wins + 1, n - b_wins + 1) + n * np.log(2.0)
    rejected = np.mean(np.any(log_lr >= -np.log(alpha), axis=1))
    assert rejected <= alpha
    # and the test is not vacuous: a 2:1 split decides within 400 discordant items
    skewed = np.cumsum(rng.random((runs, length)) < 2 / 3, axis=1)
    power = np.mean(
        np.any(betaln(skewed + 1, n - skewed + 1) + n * np.log(2.0) >= -np.log(alpha), axis=1)
    )
    assert power > 0.9
