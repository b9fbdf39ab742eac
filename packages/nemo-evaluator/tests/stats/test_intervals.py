"""Analytic, bootstrap and clustered intervals: definitions, seeds and coverage."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from nemo_evaluator.stats import (
    analytic_interval,
    bootstrap_interval,
    clustered_interval,
    clustered_stderr,
)
from nemo_evaluator.stats.intervals import bootstrap_intervals, z_value


def test_analytic_interval_is_mean_plus_minus_z_stderr() -> None:
    x = [1.0, 0.0, 1.0, 1.0]
    se = math.sqrt(0.75 * 0.25 * 4 / 3) / 2  # sample sd (n - 1) over sqrt(n) = 0.25
    iv = analytic_interval(x, level=0.95)
    assert iv.stderr == pytest.approx(se)
    assert iv.low == pytest.approx(0.75 - 1.959963984540054 * se)
    assert iv.high == pytest.approx(0.75 + 1.959963984540054 * se)
    single = analytic_interval([1.0])
    assert (single.low, single.high) == (1.0, 1.0)
    with pytest.raises(ValueError):
        analytic_interval([])
    with pytest.raises(ValueError):
        analytic_interval(x, level=1.0)


@pytest.mark.parametrize("level", [1e-6, 0.5, 0.9, 0.95, 0.99, 0.999999])
def test_z_value_matches_scipy_normal_quantile(level: float) -> None:
    from scipy import stats as sps

    want = float(sps.norm.ppf(0.5 + level / 2.0))
    assert z_value(level) == pytest.approx(want, rel=1e-12)
    with pytest.raises(ValueError, match="level"):
        z_value(0.0)


def test_intervals_do_not_import_scipy_stats() -> None:
    # scipy.stats takes 1 to 2 s to import: every run's finish would pay it for one quantile
    code = (
        "import sys; from nemo_evaluator.stats import analytic_interval, score_intervals;"
        "analytic_interval([0.0, 1.0, 1.0]); score_intervals([0.0, 1.0, 1.0, 0.5]);"
        "print('scipy.stats' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_bootstrap_is_seeded_and_records_its_settings() -> None:
    x = np.random.default_rng(3).binomial(1, 0.4, 300)
    a = bootstrap_interval(x, seed=7, resamples=1000)
    b = bootstrap_interval(x, seed=7, resamples=1000)
    c = bootstrap_interval(x, seed=8, resamples=1000)
    assert (a.low, a.high) == (b.low, b.high)
    assert (a.low, a.high) != (c.low, c.high)
    assert a.as_dict() == {
        "method": "bootstrap",
        "level": 0.95,
        "low": a.low,
        "high": a.high,
        "stderr": a.stderr,
        "seed": 7,
        "resamples": 1000,
    }
    assert a.low < x.mean() < a.high
    # near the analytic interval on 300 Bernoulli items
    an = analytic_interval(x)
    assert abs(a.low - an.low) < 0.02 and abs(a.high - an.high) < 0.02
    constant = bootstrap_interval([1.0, 1.0, 1.0])
    assert (constant.low, constant.high) == (1.0, 1.0)


def test_clustered_stderr_definition() -> None:
    x = np.array([1.0, 1.0, 0.0, 0.0, 1.0, 0.0])
    # each item its own cluster: stderr * sqrt((n - 1) / n)
    plain = np.std(x, ddof=1) / math.sqrt(x.size)
    assert clustered_stderr(x, range(6)) == pytest.approx(plain * math.sqrt(5 / 6))
    # clusters {0,1}, {2,3}, {4,5}: residual sums 1, -1, 0 -> sqrt(2) / 6
    assert clustered_stderr(x, [0, 0, 1, 1, 2, 2]) == pytest.approx(math.sqrt(2) / 6)
    assert clustered_stderr(x, ["a"] * 6) is None
    iv = clustered_interval(x, clusters=[0, 0, 1, 1, 2, 2])
    assert iv.clusters == 3 and iv.method == "clustered"
    with pytest.raises(ValueError):
        clustered_stderr(x, [0, 1])


def test_clustered_stderr_widens_for_correlated_repeats() -> None:
    # 100 documents, 4 repeats each, the repeats agree: the effective sample is 100, not 400
    rng = np.random.default_rng(0)
    per_doc = rng.binomial(1, 0.5, 100).astype(float)
    x = np.repeat(per_doc, 4)
    docs = np.repeat(np.arange(100), 4)
    naive = np.std(x, ddof=1) / math.sqrt(x.size)
    clustered = clustered_stderr(x, docs)
    assert clustered is not None
    assert clustered / naive == pytest.approx(2.0, rel=0.02)


def test_bootstrap_95_covers_the_true_mean_93_to_97_percent() -> None:
    rng = np.random.default_rng(2024)
    p, n, runs = 0.3, 200, 1000
    covered = 0
    for i in range(runs):
        x = rng.binomial(1, p, n)
        iv = bootstrap_interval(x, level=0.95, resamples=1000, seed=i)
        covered += iv.low <= p <= iv.high
    assert 0.93 <= covered / runs <= 0.97, covered


@pytest.mark.parametrize("n", [523, 524, 525, 3001])
def test_bootstrap_in_memory_bounded_batches_equals_one_draw_of_every_resample(n: int) -> None:
    # 1 << 19 draws per batch: 1,000 resamples fit in one batch up to 524 items, then the
    # batches shrink with n; the seeded stream, and so the interval, must not change
    from scipy import stats as sps

    x = (np.random.default_rng(n).random(n) < 0.6).astype(float)
    ours = bootstrap_interval(x, resamples=1000, seed=3)
    whole = sps.bootstrap(
        (x,),
        np.mean,
        n_resamples=1000,
        confidence_level=0.95,
        method="percentile",
        vectorized=True,
        rng=np.random.default_rng(3),
    )
    assert (ours.low, ours.high) == (whole.confidence_interval.low, whole.confidence_interval.high)
    assert ours.stderr == whole.standard_error


# scipy's standard error of a single resample is a nan with a RuntimeWarning; ours is None
@pytest.mark.filterwarnings("ignore:Degrees of freedom:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
@pytest.mark.parametrize(("level", "resamples"), [(0.5, 1), (0.9, 2), (0.95, 999), (0.99, 1000)])
def test_bootstrap_equals_scipy_on_real_valued_scores(level: float, resamples: int) -> None:
    from scipy import stats as sps

    x = np.random.default_rng(11).normal(0.4, 2.0, 37)
    ours = bootstrap_interval(x, level=level, resamples=resamples, seed=5)
    theirs = sps.bootstrap(
        (x,),
        np.mean,
        n_resamples=resamples,
        confidence_level=level,
        method="percentile",
        vectorized=True,
        rng=np.random.default_rng(5),
    )
    assert (ours.low, ours.high) == (
        theirs.confidence_interval.low,
        theirs.confidence_interval.high,
    )
    if resamples > 1:
        assert ours.stderr == theirs.standard_error
    else:
        assert ours.stderr is None


@pytest.mark.parametrize("n", [2, 524, 1319])
def test_bootstrap_intervals_of_several_columns_equal_each_column_alone(n: int) -> None:
    rng = np.random.default_rng(n)
    columns = [
        (rng.random(n) < 0.3).astype(float),
        np.ones(n),  # constant: no draws, and the others' draws must not shift
        rng.normal(size=n),
        (rng.random(n) < 0.9).astype(float),
    ]
    together = bootstrap_intervals(columns, seed=4, resamples=1000)
    alone = [bootstrap_interval(c, seed=4, resamples=1000) for c in columns]
    assert together == alone
    assert (together[1].low, together[1].high) == (1.0, 1.0)
    with pytest.raises(ValueError, match="different sizes"):
        bootstrap_intervals([np.ones(n), np.ones(n + 1)])
