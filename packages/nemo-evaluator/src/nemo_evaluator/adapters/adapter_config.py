"""The adapter's config model (public import path).

``AdapterConfig`` is defined in :mod:`nvidia_eval_commons.api.adapter` so every tier shares it;
this module is the import path users copy::

    from nemo_evaluator.adapters.adapter_config import AdapterConfig
"""

from __future__ import annotations

from nvidia_eval_commons.api.adapter import FLAT_CHAIN_FIELDS, AdapterConfig, InterceptorSpec

__all__ = ["FLAT_CHAIN_FIELDS", "AdapterConfig", "InterceptorSpec"]
