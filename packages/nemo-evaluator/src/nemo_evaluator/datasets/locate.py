"""Find a benchmark family's files: explicit path, bundled sample, local directory, or cache.

Resolution order (the first that applies wins; nothing falls back silently to the samples):

1. ``params.extra["dataset_path"]``: a directory holding the family's files (``.../gsm8k``) or a
   data root holding the family folder (``.../datasets``).
2. ``params.extra["dataset"] == "sample"``: the small samples bundled with the package.
3. ``data_dir`` given to the benchmark, then the ``NEMO_EVALUATOR_DATA_DIR`` environment
   variable: a data root laid out like ``<root>/gsm8k/test.jsonl``.
4. The download cache under ``$NEMO_EVALUATOR_HOME/datasets`` (default
   ``~/.cache/nemo-evaluator/datasets``), filled from the canonical source on first use unless
   ``NEMO_EVALUATOR_OFFLINE=1``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from nvidia_eval_commons.files import sha256_file

from ..errors import ConfigError
from . import download
from .errors import DatasetError, DatasetMismatchError
from .sources import KNOWN_SHA256, remote_file

log = logging.getLogger(__name__)

DATA_DIR_ENV = "NEMO_EVALUATOR_DATA_DIR"
HOME_ENV = "NEMO_EVALUATOR_HOME"
OFFLINE_ENV = "NEMO_EVALUATOR_OFFLINE"
SAMPLES_DIR = Path(__file__).resolve().parent.parent / "data" / "samples"

SourceKind = Literal["dataset_path", "sample", "data_dir", "cache"]


def home_dir() -> Path:
    """The evaluator's home (cache and state), movable with ``NEMO_EVALUATOR_HOME``."""
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env).expanduser()
    return Path("~/.cache/nemo-evaluator").expanduser()


def _offline() -> bool:
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


@dataclass
class DataSource:
    """The resolved folder of one benchmark family, and what was read from it."""

    family: str
    root: Path
    kind: SourceKind
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per file read: path, sha256 and whether it matched the known canonical sha256."""
    accept_modified: bool = False
    """Score a file whose sha256 differs from the canonical one (else DatasetMismatchError);
    ``params.extra.accept_modified_dataset``. The results then record it."""

    def hint(self) -> str:
        return (
            f"set {DATA_DIR_ENV} to a directory holding {self.family}/ (the layout of the "
            f"shared datasets), or params.extra.dataset_path, or params.extra.dataset=sample "
            f"for the bundled sample"
        )

    def exists(self, name: str) -> bool:
        """Whether ``name`` is present (or, for the cache, downloadable) without fetching it."""
        if (self.root / name).is_file():
            return True
        return self.kind == "cache" and remote_file(self.family, name) is not None

    def path(self, name: str) -> Path:
        """The local path of ``name`` (family-relative), downloading into the cache if needed,
        with its sha256 checked against the known canonical value."""
        target = self.root / name
        if not target.is_file():
            if self.kind != "cache":
                raise DatasetError(f"missing dataset file {target} ({self.kind}); {self.hint()}")
            self._download(name, target)
        self._record(name, target)
        return target

    def _download(self, name: str, target: Path) -> None:
        remote = remote_file(self.family, name)
        if remote is None:
            raise DatasetError(
                f"{self.family}/{name} has no canonical download and is not in {self.root}; "
                f"{self.hint()}"
            )
        if _offline():
            raise DatasetError(
                f"{self.family}/{name} is not cached and {OFFLINE_ENV} forbids downloads; "
                f"{self.hint()}"
            )
        log.info("downloading %s/%s from %s", self.family, name, remote.url)
        data = download.fetch_bytes(remote.url, hint=self.hint())
        if remote.member is not None:
            data = download.extract_member(data, remote.member, url=remote.url)
        expected = KNOWN_SHA256.get(self.family, {}).get(name)
        download.write_verified(target, data, expected_sha256=expected, url=remote.url)

    def _record(self, name: str, target: Path) -> None:
        if name in self.files:
            return
        digest = sha256_file(target)
        # Samples are slices, never the canonical files: nothing to compare them with.
        known = {} if self.kind == "sample" else KNOWN_SHA256.get(self.family, {})
        expected = known.get(name)
        verified: bool | None = None if expected is None else digest == expected
        if expected is not None and verified is False and not self.accept_modified:
            raise DatasetMismatchError(
                f"{target}: sha256 {digest[:16]}... differs from the canonical "
                f"{expected[:16]}... (an edited file or another version); restore the canonical "
                f"file, or set params.extra.accept_modified_dataset=true to score it anyway "
                f"(the results then say so)"
            )
        if verified is False:
            log.warning(
                "%s: sha256 %s differs from the canonical %s; scored anyway "
                "(accept_modified_dataset), scores may not be comparable",
                target,
                digest,
                expected,
            )
        self.files[name] = {"path": str(target), "sha256": digest, "canonical": verified}

    @property
    def modified(self) -> list[str]:
        """The files read whose sha256 differs from the canonical one (accepted)."""
        return sorted(n for n, f in self.files.items() if f["canonical"] is False)

    def describe(self) -> dict[str, Any]:
        """Provenance for result metadata."""
        info: dict[str, Any] = {
            "source": self.kind,
            "root": str(self.root),
            "files": dict(self.files),
        }
        if self.modified:
            info["modified_accepted"] = self.modified
        return info


def resolve_source(
    family: str, *, extra: dict[str, Any] | None = None, data_dir: str | Path | None = None
) -> DataSource:
    """Where ``family``'s files are, following the order in the module docstring."""
    extra = extra or {}
    accept = extra.get("accept_modified_dataset") in (True, "true", "True", "1", 1, "yes")
    explicit = extra.get("dataset_path")
    if explicit:
        base = Path(str(explicit)).expanduser()
        if not base.is_dir():
            raise DatasetError(
                f"params.extra.dataset_path={base} is not a directory; point it at a folder "
                f"holding the {family} files or at a data root holding {family}/"
            )
        root = base / family if (base / family).is_dir() else base
        return DataSource(family, root, "dataset_path", accept_modified=accept)
    choice = extra.get("dataset")
    if choice is not None and choice != "sample":
        raise ConfigError(
            f"params.extra.dataset={choice!r} is not known; the only named dataset is 'sample' "
            f"(the bundled sample); use params.extra.dataset_path for a directory"
        )
    if choice == "sample":
        root = SAMPLES_DIR / family
        if not root.is_dir():
            raise DatasetError(f"no bundled sample for {family} (looked in {root})")
        return DataSource(family, root, "sample")
    for base_str, what in ((data_dir, "data_dir"), (os.environ.get(DATA_DIR_ENV), DATA_DIR_ENV)):
        if not base_str:
            continue
        base = Path(str(base_str)).expanduser()
        if not base.is_dir():
            raise DatasetError(f"{what}={base} is not a directory; set it to a data root")
        return DataSource(family, base / family, "data_dir", accept_modified=accept)
    return DataSource(family, home_dir() / "datasets" / family, "cache", accept_modified=accept)
