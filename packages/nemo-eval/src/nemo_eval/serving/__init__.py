"""Serving backends: ``embedded`` (in-process), ``pytriton`` (Triton), ``ray`` (Ray Serve).

They are looked up by name in ``nvidia_eval_commons.api.plugins.SERVING_BACKENDS``.
"""

from __future__ import annotations
