"""Paired tests against reference definitions."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats as sps

from nemo_evaluator.stats import (
    mcnemar_exact,
    mcnemar_p,
    minimum_detectable_effect,
    paired_bootstrap,
    permutation_test,
)


def statsmodels_exact_mcnemar(b: int, c: int) -> float:
    """statsmodels' ``mcnemar(exact=True)``: min(1, 2 * Binom(b + c, 1/2).cdf(min(b, c)))."""
    return min(1.0, 2.0 * float(sps.binom.cdf(min(b, c), b + c, 0.5)))


TABLES = [(b, c) for b in (0, 1, 2, 5, 13, 40) for c in (0, 1, 3, 7, 12, 41) if b + c > 0]


@pytest.mark.parametrize("b,c", TABLES)
def test_mcnemar_equals_the_exact_binomial_reference(b: int, c: int) -> None:
    assert mcnemar_p(b, c) == pytest.approx(statsmodels_exact_mcnemar(b, c), abs=1e-9)


def test_mcnemar_counts_discordant_items_from_scores() -> None:
    assert len(TABLES) >= 20
    a = [1, 1, 1, 0, 0, 1, 0]
    b = [1, 0, 0, 1, 0, 1, 0]
    res = mcnemar_exact(a, b)
    assert (res.a_only, res.b_only) == (2, 1)
    assert res.p_value == pytest.approx(statsmodels_exact_mcnemar(2, 1), abs=1e-12)
    assert mcnemar_exact([1, 0], [1, 0]).p_value == 1.0
    with pytest.raises(ValueError):
        mcnemar_exact([0.5, 1], [1, 1])
    with pytest.raises(ValueError):
        mcnemar_exact([1, 0], [1])


def test_permutation_test_is_exact_on_small_samples() -> None:
    a = np.array([0.2, 0.5, 0.1, 0.9, 0.4, 0.3, 0.8, 0.6])
    b = np.array([0.4, 0.5, 0.6, 0.7, 0.9, 0.5, 0.9, 0.8])
    d = b - a
    observed = abs(d.mean())
    flips = np.array(list(itertools.product([1, -1], repeat=d.size)))
    null = np.abs((flips * d).mean(axis=1))
    expected = float(np.mean(null >= observed - 1e-12))
    assert permutation_test(a, b) == pytest.approx(expected, abs=1e-12)
    assert permutation_test(a, a) == 1.0


def test_paired_bootstrap_is_narrower_than_unpaired_for_correlated_runs() -> None:
    rng = np.random.default_rng(5)
    skill = rng.normal(size=400)
    a = (skill + rng.normal(scale=0.3, size=400) > 0).astype(float)
    b = (skill + 0.1 + rng.normal(scale=0.3, size=400) > 0).astype(float)
    iv = paired_bootstrap(a, b, seed=1)
    unpaired = 1.96 * np.sqrt(a.var(ddof=1) / 400 + b.var(ddof=1) / 400)
    assert iv.low < b.mean() - a.mean() < iv.high
    assert (iv.high - iv.low) / 2 < 0.8 * unpaired


def test_minimum_detectable_effect_scales_with_one_over_sqrt_n() -> None:
    rng = np.random.default_rng(9)
    a = rng.binomial(1, 0.5, 400).astype(float)
    b = rng.binomial(1, 0.5, 400).astype(float)
    sd = np.std(b - a, ddof=1)
    assert minimum_detectable_effect(a, b) == pytest.approx(
        (1.959963984540054 + 0.8416212335729143) * sd / 20.0
    )
    big_a, big_b = np.tile(a, 4), np.tile(b, 4)
    ratio = minimum_detectable_effect(a, b) / minimum_detectable_effect(big_a, big_b)
    assert ratio == pytest.approx(2.0, rel=0.01)
    assert np.isnan(minimum_detectable_effect([1.0], [0.0]))
