"""Executors: where jobs run (``local``, ``slurm``, ``lepton``) behind one interface."""

from __future__ import annotations

from .base import Executor, JobSpec, JobStatus

EXECUTOR_NAMES = ("local", "slurm", "lepton")

__all__ = ["EXECUTOR_NAMES", "Executor", "JobSpec", "JobStatus"]
