"""Exporters: where results go (``local``, ``mlflow``, ``wandb``) behind one interface."""

from __future__ import annotations

from pathlib import Path

from nvidia_eval_commons.api.launcher import ExporterSpec

from .base import Exporter, ExportItem, ExportOutcome

EXPORTER_NAMES = ("local", "mlflow", "wandb")


def get_exporter(name: str) -> type[Exporter]:
    if name == "local":
        from .local import LocalExporter

        return LocalExporter
    if name == "mlflow":
        from .mlflow import MlflowExporter

        return MlflowExporter
    if name == "wandb":
        from .wandb import WandbExporter

        return WandbExporter
    from ..errors import LauncherConfigError

    raise LauncherConfigError(
        f"unknown exporter '{name}'; valid exporters: {', '.join(EXPORTER_NAMES)}"
    )


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
    "EXPORTER_NAMES",
    "ExportItem",
    "ExportOutcome",
    "Exporter",
    "get_exporter",
    "run_exporters",
]
