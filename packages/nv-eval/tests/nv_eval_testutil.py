"""Helpers shared by the nv-eval tests."""

from __future__ import annotations

import time
from pathlib import Path

import yaml


def write_config(directory: Path, name: str, **sections: object) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    data = {"defaults": ["_self_"], **sections}
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def eval_config(
    url: str, *, tasks: str = "gsm8k", limit: int = 8, output_dir: str = "results"
) -> dict:
    return {
        "type": tasks,
        "output_dir": output_dir,
        "params": {"limit_samples": limit, "parallelism": 2, "extra": {"dataset": "sample"}},
    }


def wait_for(predicate, *, timeout: float = 60.0, interval: float = 0.2):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


def read_wandb_records(path: Path) -> list[object]:
    """The protobuf records of an offline ``run-*.wandb`` file.

    The file is a LevelDB-style log (7-byte ``:W&B`` header, 32 KiB blocks, records with a
    7-byte crc/length/type header, split FIRST/MIDDLE/LAST across blocks); this W&B version
    ships no Python reader for it, so the few lines below follow that published format.
    """
    import struct

    from wandb.proto import wandb_internal_pb2 as pb

    data = path.read_bytes()
    assert data[:4] == b":W&B", "not a W&B run file"
    block, pos, records, parts = 32768, 7, [], b""
    while pos + 7 <= len(data):
        left = block - pos % block
        if left < 7:
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if length == 0 and kind == 0:
            pos += left
            continue
        chunk = data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        parts = chunk if kind in (1, 2) else parts + chunk
        if kind in (1, 4):
            rec = pb.Record()
            rec.ParseFromString(parts)
            records.append(rec)
            parts = b""
    return records


def wandb_run_data(path: Path) -> dict[str, object]:
    """``{"summary": {...}, "history": {...}, "tags": [...], "project": str}`` of a run file."""
    import json

    out: dict[str, object] = {"summary": {}, "history": {}, "tags": [], "project": ""}
    for rec in read_wandb_records(path):
        kind = rec.WhichOneof("record_type")  # type: ignore[attr-defined]
        if kind == "history":
            for item in rec.history.item:  # type: ignore[attr-defined]
                out["history"][item.key or ".".join(item.nested_key)] = json.loads(item.value_json)  # type: ignore[index]
        elif kind == "summary":
            for item in rec.summary.update:  # type: ignore[attr-defined]
                out["summary"][item.key or ".".join(item.nested_key)] = json.loads(item.value_json)  # type: ignore[index]
        elif kind == "run":
            out["tags"] = list(rec.run.tags)  # type: ignore[attr-defined]
            out["project"] = rec.run.project  # type: ignore[attr-defined]
    return out
