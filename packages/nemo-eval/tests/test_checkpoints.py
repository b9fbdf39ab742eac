"""Checkpoint resolution on the CPU: ``.nemo`` archives and NeMo 2 directories fail fast."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from nemo_eval.api import deploy
from nemo_eval.checkpoints import resolve_checkpoint
from nemo_eval.engines.nemo import inspect_nemo_checkpoint
from nemo_eval.errors import CheckpointError, HardwareError, MissingExtraError

MODEL_CONFIG = "num_layers: 2\nhidden_size: 64\nnum_attention_heads: 4\nprecision: bf16\n"


def _archive(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    assert text and "\n" not in text, text
    return text


def test_nemo_archive_config_is_read_on_cpu(tmp_path: Path) -> None:
    nemo = _archive(
        tmp_path / "tiny.nemo",
        {
            "./model_config.yaml": MODEL_CONFIG.encode(),
            "./model_weights/common.pt": b"\0" * 16,
        },
    )
    config = inspect_nemo_checkpoint(nemo)
    assert config["num_layers"] == 2 and config["hidden_size"] == 64
    resolved = resolve_checkpoint(str(nemo))
    assert (resolved.engine, resolved.path, resolved.model_name) == ("nemo", nemo, "tiny")


def test_nemo_archive_without_model_config_fails_fast(tmp_path: Path) -> None:
    nemo = _archive(tmp_path / "weights_only.nemo", {"./model_weights/common.pt": b"x"})
    with pytest.raises(CheckpointError) as info:
        resolve_checkpoint(str(nemo))
    assert "no model_config.yaml" in _one_line(info.value)


def test_file_that_is_not_a_tar_fails_fast(tmp_path: Path) -> None:
    fake = tmp_path / "model.nemo"
    fake.write_bytes(b"PK\x03\x04 this is a zip header, not a tar archive" * 20)
    with pytest.raises(CheckpointError) as info:
        resolve_checkpoint(str(fake))
    assert "is not a .nemo archive" in _one_line(info.value)


def test_invalid_model_config_yaml_fails_fast(tmp_path: Path) -> None:
    nemo = _archive(tmp_path / "broken.nemo", {"model_config.yaml": b"num_layers: [1, 2\n"})
    with pytest.raises(CheckpointError) as info:
        resolve_checkpoint(str(nemo))
    assert "not valid YAML" in _one_line(info.value)
    listing = _archive(tmp_path / "list.nemo", {"model_config.yaml": b"- 1\n- 2\n"})
    with pytest.raises(CheckpointError) as info:
        resolve_checkpoint(str(listing))
    assert "model config mapping" in _one_line(info.value)


def test_nemo2_directory_and_wrong_layouts(tmp_path: Path) -> None:
    good = tmp_path / "nemo2"
    (good / "context").mkdir(parents=True)
    (good / "weights").mkdir()
    (good / "context" / "model.yaml").write_text(MODEL_CONFIG)
    assert resolve_checkpoint(str(good)).engine == "nemo"
    empty = tmp_path / "empty_dir"
    empty.mkdir()
    with pytest.raises(CheckpointError) as info:
        resolve_checkpoint(str(empty))
    assert "neither config.json" in _one_line(info.value)
    other = tmp_path / "weights.bin"
    other.write_bytes(b"\0")
    with pytest.raises(CheckpointError) as info:
        resolve_checkpoint(str(other))
    assert "not a checkpoint this package reads" in _one_line(info.value)


def test_deploying_a_valid_archive_on_cpu_names_what_is_missing(tmp_path: Path) -> None:
    nemo = _archive(tmp_path / "tiny.nemo", {"model_config.yaml": MODEL_CONFIG.encode()})
    with pytest.raises((HardwareError, MissingExtraError)) as info:
        deploy(nemo_checkpoint=str(nemo), server_port=0, run_dir=tmp_path / "run")
    message = _one_line(info.value)
    # no GPU here: the error says so (or, without torch, names the install command)
    assert "CUDA GPU" in message or "pip install" in message
