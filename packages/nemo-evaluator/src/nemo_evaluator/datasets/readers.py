"""Parse the file formats of the layout: JSON lines (plain or gzip), CSV, bz2 text."""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
from pathlib import Path
from typing import Any

from .. import fast_json
from .errors import DatasetError


def _raw(path: Path) -> bytes:
    raw = path.read_bytes()
    if path.suffix == ".gz":
        return gzip.decompress(raw)
    if path.suffix == ".bz2":
        return bz2.decompress(raw)
    return raw


def _decoded(raw: bytes, path: Path) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def read_text(path: Path) -> str:
    return _decoded(_raw(path), path)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSON-lines file (``.jsonl`` or ``.jsonl.gz``); blank lines are skipped.

    Lines end at ``\n`` only: ``str.splitlines`` would also cut at U+0085, U+2028 and other
    characters that JSON allows raw inside a string."""
    raw = _raw(path)
    huge = fast_json.may_hold_huge_integers(raw)  # once for the file, not a walk per row
    rows: list[dict[str, Any]] = []
    for lineno, line in enumerate(_decoded(raw, path).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = fast_json.loads(line, huge_integers=huge)  # json.loads, faster
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}:{lineno}: bad JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise DatasetError(f"{path}:{lineno}: expected a JSON object per line")
        rows.append(row)
    return rows


def read_csv_rows(path: Path) -> list[list[str]]:
    """All rows of a CSV file (RFC 4180 quoting, as both MMLU releases use)."""
    return list(csv.reader(io.StringIO(read_text(path), newline="")))
