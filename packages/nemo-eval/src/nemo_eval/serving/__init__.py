"""Serving backends: ``embedded`` (in-process), ``pytriton`` (Triton), ``ray`` (Ray Serve)."""

from __future__ import annotations

BACKENDS = ("embedded", "pytriton", "ray")

__all__ = ["BACKENDS"]
