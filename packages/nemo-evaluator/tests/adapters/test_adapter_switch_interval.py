"""The pipeline shortens the thread switch interval while open and restores it after."""

from __future__ import annotations

import sys

import pytest

from nemo_evaluator.adapters import switch_interval
from nemo_evaluator.adapters.pipeline import AdapterPipeline


@pytest.fixture
def long_interval():
    old = sys.getswitchinterval()
    sys.setswitchinterval(0.005)
    yield 0.005
    sys.setswitchinterval(old)


def test_nested_holders_restore_the_first_value(long_interval: float) -> None:
    with switch_interval.ShortSwitchInterval():
        assert sys.getswitchinterval() == pytest.approx(switch_interval.DEFAULT_INTERVAL_S)
        with switch_interval.ShortSwitchInterval(0.001):  # never raised by a later holder
            assert sys.getswitchinterval() == pytest.approx(switch_interval.DEFAULT_INTERVAL_S)
        assert sys.getswitchinterval() == pytest.approx(switch_interval.DEFAULT_INTERVAL_S)
    assert sys.getswitchinterval() == pytest.approx(long_interval)
    switch_interval.release()  # an extra release is harmless
    assert sys.getswitchinterval() == pytest.approx(long_interval)


def test_pipeline_holds_it_until_closed(long_interval: float, tmp_path) -> None:
    first = AdapterPipeline.from_config(
        None, upstream_url="http://127.0.0.1:9/v1/completions", output_dir=tmp_path / "a"
    )
    second = AdapterPipeline.from_config(
        None, upstream_url="http://127.0.0.1:9/v1/completions", output_dir=tmp_path / "b"
    )
    assert sys.getswitchinterval() == pytest.approx(switch_interval.DEFAULT_INTERVAL_S)
    first.close()
    first.close()  # idempotent: must not release twice
    assert sys.getswitchinterval() == pytest.approx(switch_interval.DEFAULT_INTERVAL_S)
    second.close()
    assert sys.getswitchinterval() == pytest.approx(long_interval)
