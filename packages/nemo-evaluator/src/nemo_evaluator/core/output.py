"""Files of the output directory: results.yml/.json, samples.jsonl and the run config.

Files are replaced atomically (a temporary file, then a rename) and get the mode a plain
``open`` would give them (0644 under umask 022), so colleagues can read results on a shared
file system. A directory that cannot be written (a file in the way, read-only, a full disk)
raises OutputDirError: one line naming the path, the cause and the fix.
"""

from __future__ import annotations

import errno
import json
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import yaml

from nvidia_eval_commons.api.results import EvaluationResult
from nvidia_eval_commons.files import atomic_open, atomic_write

from .. import fast_json
from .errors import OutputDirError

RESULTS_YML = "results.yml"
RESULTS_JSON = "results.json"
SAMPLES_JSONL = "samples.jsonl"
RUN_CONFIG = "run_config.json"
_YAML_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml's emitter when built in

_CAUSES = {
    errno.ENOSPC: ("no space left on the device", "free some space"),
    errno.EDQUOT: ("the disk quota is exhausted", "free some space"),
    errno.EROFS: ("the file system is read-only", "choose a writable output_dir"),
    errno.EACCES: ("permission denied", "make it writable or choose another output_dir"),
    errno.EPERM: ("permission denied", "make it writable or choose another output_dir"),
    errno.EEXIST: ("a file is in the way of the directory", "move it or choose another output_dir"),
    errno.ENOTDIR: (
        "a file is in the way of the directory",
        "move it or choose another output_dir",
    ),
    errno.EISDIR: ("a directory is in the way of a file", "move it or choose another output_dir"),
}


def is_disk_error(err: BaseException) -> bool:
    """An OSError about the file system (not a network error, which is an OSError too)."""
    return isinstance(err, OSError) and err.errno in _CAUSES


def output_dir_error(err: OSError, output_dir: Path) -> OutputDirError:
    """The one-line error for a file-system failure under ``output_dir``."""
    cause, fix = _CAUSES.get(err.errno or 0, (err.strerror or type(err).__name__, "fix it"))
    path = str(err.filename or output_dir)
    where = "" if path == str(output_dir) else f"{path}: "
    return OutputDirError(
        f"cannot write the output dir {output_dir} ({where}{cause}); {fix}, then run the same "
        "command again: completed samples are kept in its journal and the run resumes"
    )


def prepare_output_dir(output_dir: Path) -> None:
    """Create ``output_dir`` (and parents) or raise OutputDirError."""
    try:
        if output_dir.exists() and not output_dir.is_dir():
            raise FileExistsError(errno.EEXIST, "File exists", str(output_dir))
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise output_dir_error(err, output_dir) from None


def write_results(result: EvaluationResult, output_dir: Path) -> None:
    data = result.model_dump(mode="json")
    atomic_write(output_dir / RESULTS_JSON, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    atomic_write(
        output_dir / RESULTS_YML,
        # libyaml's emitter when PyYAML has it: the same text, four times faster
        yaml.dump(data, Dumper=_YAML_DUMPER, sort_keys=False, allow_unicode=True),
    )


class SamplesWriter:
    """Appends samples to samples.jsonl one line at a time; the file replaces the old one
    only when the writer closes without an error (see ``atomic_open``)."""

    def __init__(self, fh: BinaryIO) -> None:
        self._fh = fh

    def add(self, sample: Mapping[str, Any]) -> None:
        # the file holds every prompt: its encoding is a large share of a cached re-run
        self._fh.write(fast_json.dumps(sample) + b"\n")

    def save(self, output_dir: Path) -> None:
        """Write what was added to ``output_dir``/samples.jsonl (atomically); for a writer
        from :func:`spooled_samples`."""
        self._fh.seek(0)
        with atomic_open(output_dir / SAMPLES_JSONL) as out:
            shutil.copyfileobj(self._fh, out, _COPY_BLOCK)


_COPY_BLOCK = 1 << 20


@contextmanager
def samples_writer(output_dir: Path) -> Iterator[SamplesWriter]:
    with atomic_open(output_dir / SAMPLES_JSONL) as fh:
        yield SamplesWriter(fh)


@contextmanager
def spooled_samples(output_dir: Path) -> Iterator[SamplesWriter]:
    """A writer that gathers samples in an anonymous temporary file under ``output_dir``
    (gone with the process whatever happens: a killed run leaves nothing behind); call
    :meth:`SamplesWriter.save` to write samples.jsonl from it."""
    with tempfile.TemporaryFile(dir=output_dir) as fh:
        yield SamplesWriter(fh)


def write_samples(samples: Iterable[Mapping[str, Any]], output_dir: Path) -> None:
    with samples_writer(output_dir) as writer:
        for sample in samples:
            writer.add(sample)


def write_run_config(config: dict[str, Any], output_dir: Path) -> None:
    """What ``nemo-evaluator run --resume DIR`` needs (never the API key itself)."""
    atomic_write(output_dir / RUN_CONFIG, json.dumps(config, indent=2) + "\n")


def read_run_config(output_dir: Path) -> dict[str, Any]:
    path = output_dir / RUN_CONFIG
    if not path.exists():
        raise FileNotFoundError(f"{path} not found; is {output_dir} the output dir of a run?")
    config: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return config
