"""Executors: where jobs run (``local``, ``slurm``, ``lepton``) behind one interface.

They are looked up by name in ``nvidia_eval_commons.api.plugins.EXECUTORS``.
"""

from __future__ import annotations

from nvidia_eval_commons.api.plugins import EXECUTORS

from .base import Executor, JobSpec, JobStatus

__all__ = ["EXECUTORS", "Executor", "JobSpec", "JobStatus"]
