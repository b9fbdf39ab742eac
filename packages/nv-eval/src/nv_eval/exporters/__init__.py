"""Exporters: where results go (``local``, ``mlflow``, ``wandb``) behind one interface."""

from __future__ import annotations

from pathlib import Path

from nvidia_eval_commons.api.launcher import ExporterSpec
from nvidia_eval_commons.api.plugins import EXPORTERS

from ..errors import UnknownExporterError
from .base import Exporter, ExportItem, ExportOutcome


def get_exporter(name: str) -> type[Exporter]:
    """The exporter class registered as ``name``; an unknown one lists the valid names."""
    if name not in EXPORTERS:
        raise UnknownExporterError(str(EXPORTERS.unknown(name)))
    cls: type[Exporter] = EXPORTERS.get(name)
    return cls


def run_exporters(
    specs: list[ExporterSpec], items: list[ExportItem], *, invocation_dir: Path, fmt: str = "json"
) -> list[ExportOutcome]:
    """Run each exporter; an error becomes a failed outcome and the others still run."""
    outcomes: list[ExportOutcome] = []
    for spec in specs:
        try:
            exporter = get_exporter(spec.type)(
                options=spec.config, invocation_dir=invocation_dir, fmt=fmt
            )
            outcomes.append(ExportOutcome(spec.type, True, exporter.export(items)))
        except Exception as err:
            text = str(err).strip().splitlines()
            outcomes.append(
                ExportOutcome(spec.type, False, f"{type(err).__name__}: {text[0] if text else ''}")
            )
    return outcomes


__all__ = [
    "EXPORTERS",
    "ExportItem",
    "ExportOutcome",
    "Exporter",
    "get_exporter",
    "run_exporters",
]
