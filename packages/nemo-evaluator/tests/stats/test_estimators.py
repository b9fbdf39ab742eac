"""pass@k against counting subsets; maj@k on hand cases."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from nemo_evaluator.stats import maj_at_k, majority, pass_at_k, pass_at_k_array


def enumerated_pass_at_k(n: int, c: int, k: int) -> float:
    """The fraction of k-subsets of n samples (c correct) holding at least one correct one."""
    samples = [1] * c + [0] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(samples[i] for i in s) for s in subsets) / len(subsets)


CASES = [(n, c, k) for n in range(1, 9) for c in range(n + 1) for k in range(1, n + 1)]


@pytest.mark.parametrize("n,c,k", CASES)
def test_pass_at_k_equals_enumeration(n: int, c: int, k: int) -> None:
    expected = enumerated_pass_at_k(n, c, k)
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


def test_vectorised_pass_at_k_equals_the_exact_one() -> None:
    n = np.array([n for n, _, _ in CASES])
    c = np.array([c for _, c, _ in CASES])
    for k in range(1, 9):
        mask = n >= k
        got = pass_at_k_array(n[mask], c[mask], k)
        want = [pass_at_k(int(a), int(b), k) for a, b in zip(n[mask], c[mask], strict=True)]
        np.testing.assert_allclose(got, want, atol=1e-12)


def test_pass_at_k_large_n_and_boundaries() -> None:
    # 1 - C(187, 100) / C(200, 100) computed exactly
    exact = 1 - math.comb(187, 100) / math.comb(200, 100)
    assert pass_at_k_array([200], [13], 100)[0] == pytest.approx(exact, rel=1e-12)
    assert pass_at_k(5, 0, 5) == 0.0
    assert pass_at_k(5, 1, 5) == 1.0  # n - c = 4 < k
    assert pass_at_k(5, 5, 1) == 1.0
    for bad in [(5, 6, 1), (5, 1, 6), (5, 1, 0), (5, -1, 1)]:
        with pytest.raises(ValueError):
            pass_at_k(*bad)
    with pytest.raises(ValueError):
        pass_at_k_array([3, 5], [1, 1], 4)


def test_majority_and_maj_at_k() -> None:
    assert majority(["7", "12", "12", "7"]) == "7"  # tie: the first seen wins
    assert majority([None, None]) is None
    assert majority([None, "3", None]) == "3"
    answers = ["12", "7", "7", "12", "12"]
    assert maj_at_k(answers, "12", k=1) == 1.0
    assert maj_at_k(answers, "12", k=3) == 0.0  # 7 wins 2:1 in the first three
    assert maj_at_k(answers, "12", k=4) == 1.0  # 2:2, 12 seen first
    assert maj_at_k(answers, "12", k=5) == 1.0
    assert maj_at_k([None, None], "12", k=2) == 0.0
    with pytest.raises(ValueError):
        maj_at_k(answers, "12", k=6)
    with pytest.raises(ValueError):
        maj_at_k(answers, "12", k=0)
