"""Progress tracking: count finished samples, write ``progress.json``, post it to a URL.

In client mode the evaluate core calls ``AdapterPipeline.sample_finished()`` once per finished
sample. In server mode (any external client) one successful final answer counts as one sample:
retries are inside the upstream call and never counted, and cache replays are not counted
unless ``count_cache_hits`` is set. Writing and posting happen on a background thread, so a
slow or unreachable ``progress_tracking_url`` never slows or breaks a request.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import requests
from pydantic import Field

from nvidia_eval_commons.api._strict import StrictModel

from ..interceptor import AdapterResponse, ChainEnv, Interceptor, RequestContext
from ..log_files import write_json_atomic

PROGRESS_FILE = "progress.json"
_log = logging.getLogger(__name__)


class ProgressTrackingConfig(StrictModel):
    """Options of the ``progress_tracking`` interceptor."""

    progress_tracking_url: str | None = None
    """Where ``{"samples_processed": N}`` is posted; ``None`` only writes the file."""
    progress_tracking_interval: int = Field(default=1, ge=1)
    """Post every this many samples."""
    count_cache_hits: bool = False
    """In server mode, also count answers replayed from the cache."""
    post_timeout_s: float = Field(default=2.0, gt=0)


class ProgressTrackingInterceptor(Interceptor):
    """Counts samples; see the module docstring for what counts."""

    name = "progress_tracking"
    config_model = ProgressTrackingConfig
    changes_results = False

    def __init__(self, config: ProgressTrackingConfig, *, env: ChainEnv) -> None:
        super().__init__(config, env=env)
        self.config: ProgressTrackingConfig = config
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = False
        self.samples = 0
        self._posted_at = 0
        self.post_failures = 0
        self._started = time.time()
        self._session = requests.Session()
        self._thread = threading.Thread(target=self._worker, name="progress", daemon=True)
        self._thread.start()

    def sample_finished(self, n: int = 1) -> None:
        with self._lock:
            self.samples += n
        self._wake.set()

    def on_response(self, response: AdapterResponse, ctx: RequestContext) -> AdapterResponse:
        if ctx.client_mode or response.status_code >= 400:
            return response
        if response.cache_hit and not self.config.count_cache_hits:
            return response
        self.sample_finished()
        return response

    def _snapshot(self) -> dict[str, Any]:
        with self._lock:
            n = self.samples
        elapsed = time.time() - self._started
        return {
            "samples_processed": n,
            "elapsed_s": round(elapsed, 3),
            "samples_per_s": round(n / elapsed, 3) if elapsed > 0 else 0.0,
            "updated": time.time(),
        }

    def _flush(self, *, final: bool) -> None:
        snap = self._snapshot()
        write_json_atomic(self.env.output_dir / PROGRESS_FILE, snap)
        url = self.config.progress_tracking_url
        n = snap["samples_processed"]
        due = n - self._posted_at >= self.config.progress_tracking_interval
        if url and n != self._posted_at and (due or final):
            self._posted_at = n
            try:
                self._session.post(
                    url, json={"samples_processed": n}, timeout=self.config.post_timeout_s
                )
            except requests.RequestException as exc:
                self.post_failures += 1
                if self.post_failures == 1:
                    _log.warning("progress_tracking_url %s unreachable (%s); run goes on", url, exc)

    def _worker(self) -> None:
        while not self._stop:
            self._wake.wait()
            self._wake.clear()
            if self._stop:
                break
            try:
                self._flush(final=False)
            except Exception as exc:  # best effort: progress never breaks a run
                _log.warning("progress tracking failed: %s", exc)

    def stats(self) -> dict[str, Any]:
        return {"samples_processed": self.samples, "progress_post_failures": self.post_failures}

    def close(self) -> None:
        self._stop = True
        self._wake.set()
        self._thread.join(timeout=self.config.post_timeout_s + 1)
        self._flush(final=True)
        self._session.close()
