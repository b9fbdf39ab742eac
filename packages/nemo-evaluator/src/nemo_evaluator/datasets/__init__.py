"""Benchmark data: canonical sources, a download cache, local overrides and bundled samples."""

from .errors import DatasetError, DatasetMismatchError
from .locate import DATA_DIR_ENV, HOME_ENV, OFFLINE_ENV, DataSource, home_dir, resolve_source
from .readers import read_csv_rows, read_jsonl, read_text
from .sources import KNOWN_SHA256, MMLU_SUBJECTS

__all__ = [
    "DATA_DIR_ENV",
    "HOME_ENV",
    "KNOWN_SHA256",
    "MMLU_SUBJECTS",
    "OFFLINE_ENV",
    "DataSource",
    "DatasetError",
    "DatasetMismatchError",
    "home_dir",
    "read_csv_rows",
    "read_jsonl",
    "read_text",
    "resolve_source",
]
