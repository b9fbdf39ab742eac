"""One benchmark run into one output directory, as an object with three steps.

``TaskRun(...)`` sets up: the benchmark and its documents, the output directory, the journal
(opened here and closed exactly once, at the end of :meth:`TaskRun.infer`) and run_config.json.
:meth:`TaskRun.infer` sends the documents the journal does not hold yet. :meth:`TaskRun.finish`
scores what the journal holds, writes samples.jsonl, report.html and results.yml/.json, and
prints the summary. ``execute()`` runs the two in order. What it is set up with is in
:mod:`.task_setup`, each document's record in :mod:`.sample_record`, the result in
:mod:`.run_result`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nvidia_eval_commons.api.api_dataclasses import (
    AdapterConfig,
    EvaluationConfig,
    EvaluationTarget,
)
from nvidia_eval_commons.api.results import EvaluationResult

from ..adapters.switch_interval import ShortSwitchInterval
from ..benchmarks.base import Benchmark, Request, SampleScore
from .client import ModelClient
from .dispatch_order import window_for
from .display import ProgressDisplay, print_summary, quiet_requested
from .endpoint import resolve_model_id
from .errors import TooManyErrorsError
from .failures import summary_lines
from .in_order import InOrder
from .journal import JOURNAL_NAME, Journal
from .output import (
    SamplesWriter,
    prepare_output_dir,
    spooled_samples,
    write_results,
    write_run_config,
)
from .preflight import preflight
from .report import ReportWriter, finish_report
from .resume_keys import result_settings
from .run_config import max_error_fraction, run_config
from .run_result import run_result
from .runner import RunStats, allowed_errors, outputs_from_json, run_docs
from .sample_record import Tally, sample_record
from .task_setup import build_pipeline, now_iso, ordered_docs, resume_hint

_CHUNK = 256
"""Journal entries read back at a time while the outputs are written."""
_HELD_AT_LEAST = 512
"""Finished documents the in-order outputs may hold at any parallelism: half of it is the
log-likelihood dispatch window (:func:`.dispatch_order.window_for`)."""


@dataclass
class _Outputs:
    """The writers of samples.jsonl and report.html for one run, and what they counted."""

    samples: SamplesWriter
    report: ReportWriter
    tally: Tally = field(default_factory=Tally)


class TaskRun:
    """One benchmark (``task``) of ``config`` against ``target``, into ``output_dir``."""

    def __init__(
        self,
        *,
        target: EvaluationTarget,
        config: EvaluationConfig,
        adapter: AdapterConfig | None,
        bench: Benchmark,
        task: str,
        output_dir: Path,
    ) -> None:
        self.target, self.config, self.adapter = target, config, adapter
        self.bench, self.task, self.output_dir = bench, task, output_dir
        params = config.params
        self.rescore = bool(params.extra.get("rescore"))
        self.fraction = max_error_fraction(params)
        self.docs = bench.limit_docs(
            ordered_docs(bench.load_docs(), params.extra.get("order_seed")), params.limit_samples
        )
        bench.preflight()
        settings = result_settings(task=task, target=target, params=params, adapter=adapter)
        prepare_output_dir(output_dir)
        self.journal = Journal(
            output_dir / JOURNAL_NAME, settings=settings, planned=len(self.docs)
        ).open()
        if not self.rescore:
            write_run_config(
                run_config(target=target, eval_cfg=config, adapter=adapter), output_dir
            )
        self.started, self.t0 = now_iso(), time.perf_counter()
        self.stats = RunStats()
        self.model_id = target.api_endpoint.model_id
        done = self.journal.done_ids()
        self.resumed = sum(1 for d in self.docs if str(d["doc_id"]) in done)
        self.todo = [] if self.rescore else [d for d in self.docs if str(d["doc_id"]) not in done]
        self.quiet = quiet_requested(params.extra)
        self._outputs: _Outputs | None = None
        self._stream: InOrder | None = None

    @property
    def _held_limit(self) -> int:
        """Finished documents held at most for the in-order outputs (see :mod:`.in_order`)."""
        return max(_HELD_AT_LEAST, 4 * self.config.params.parallelism)

    def execute(self) -> EvaluationResult:
        """Infer, then finish; the rows of samples.jsonl and report.html are written while
        the documents come back (in the run's order, see :mod:`.in_order`), so ``finish``
        writes only what is left."""
        with ExitStack() as stack:
            samples = stack.enter_context(spooled_samples(self.output_dir))
            report = stack.enter_context(ReportWriter(tmp_dir=self.output_dir))
            self._outputs = _Outputs(samples=samples, report=report)
            if self.todo:
                self._stream = InOrder(
                    [str(d["doc_id"]) for d in self.docs],
                    emit=self._stream_one,
                    limit=self._held_limit,
                )
            stopped = self.infer()
            return self.finish(stopped=stopped, inference_s=time.perf_counter() - self.t0)

    def _stream_one(
        self, index: int, item: tuple[dict[str, Any], Sequence[Request] | None]
    ) -> None:
        (record, requests), doc, out = item, self.docs[index], self._outputs
        assert out is not None
        entry = {"kind": "sample", **record}  # the journal's line, as it reads back
        sinks = (out.samples, out.report)
        self._count(out.tally, doc, {str(doc["doc_id"]): entry}, {}, sinks, requests=requests)

    def _finished(self, record: dict[str, Any], requests: Sequence[Request] | None) -> None:
        """A document finished in this process: hand it to the in-order writer when its row
        needs nothing more (an error, or a score from this run); otherwise stop streaming."""
        stream = self._stream
        if stream is None or stream.stopped:
            return
        doc_id = str(record["doc_id"])
        if record["error"] or doc_id in self.stats.scores:
            stream.finished(doc_id, (record, requests))
        else:
            stream.stop()

    # -- inference -------------------------------------------------------------------------

    def infer(self) -> TooManyErrorsError | None:
        """Send the documents still to do; the journal is closed when this returns or raises.

        An early stop (too many failed samples) is returned, to be raised by ``finish`` once
        the outputs of the finished samples are written; Ctrl-C prints how to resume and
        propagates.
        """
        try:
            try:
                if self.todo:
                    self._send()
            finally:
                self.journal.close()
        except KeyboardInterrupt:
            saved = len(self.journal.done_ids() & {str(d["doc_id"]) for d in self.docs})
            print(
                f"\nInterrupted: {saved} of {len(self.docs)} samples are saved in "
                f"{self.journal.path}. Resume with: {resume_hint(self.output_dir, self.target)}",
                file=sys.stderr,
                flush=True,
            )
            raise
        except TooManyErrorsError as err:
            return TooManyErrorsError(
                f"{err} (completed samples are kept in {self.journal.path}; fix the cause and "
                "run again to resume)"
            )
        return None

    def _send(self) -> None:
        params, ep = self.config.params, self.target.api_endpoint
        capabilities: frozenset[str] = frozenset()
        with ExitStack() as stack:
            stack.enter_context(ShortSwitchInterval())
            if params.extra.get("preflight", True) is not False:
                adapter = self.adapter
                upstream = adapter.api_url if adapter is not None and adapter.api_url else ep.url
                self.model_id, capabilities = preflight(
                    upstream,
                    endpoint_type=ep.endpoint_type,
                    api_key=ep.resolved_api_key(),
                    model_id=self.model_id,
                )
            pipeline, transport = build_pipeline(
                stack, self.target, self.config, self.adapter, self.output_dir
            )
            if self.model_id is None:
                self.model_id = resolve_model_id(
                    ep.url, api_key=ep.resolved_api_key(), timeout=params.request_timeout
                )
            client = ModelClient(
                transport,
                endpoint_type=ep.endpoint_type,
                model_id=self.model_id,
                max_retries=params.max_retries,
                temperature=params.temperature,
                top_p=params.top_p,
                seed=params.seed,
                loglikelihood_batch_size=int(params.extra.get("loglikelihood_batch_size", 16)),
                sample_timeout=params.sample_timeout,
                echo_logprobs_from="echo_logprobs_from" in capabilities,
            )
            progress = stack.enter_context(
                ProgressDisplay(
                    task=self.task,
                    total=len(self.docs),
                    completed=self.resumed,
                    enabled=not self.quiet,
                )
            )
            finished_hook = getattr(pipeline, "sample_finished", None)

            def on_finished(record: dict[str, Any], requests: Sequence[Request] | None) -> None:
                self._finished(record, requests)
                progress.advance(error=bool(record["error"]))
                if finished_hook is not None:
                    finished_hook()

            self.stats = run_docs(
                bench=self.bench,
                client=client,
                docs=self.todo,
                journal=self.journal,
                parallelism=params.parallelism,
                total=len(self.docs),
                max_error_fraction=self.fraction,
                on_finished=on_finished,
                stats=self.stats,
                reorder_window=window_for(params.parallelism, self._held_limit),
            )

    # -- scoring and outputs ---------------------------------------------------------------

    def finish(self, *, stopped: TooManyErrorsError | None, inference_s: float) -> EvaluationResult:
        """Score what the journal holds, write every output file, print the summary.

        The samples stream from the journal to samples.jsonl and report.html one by one; only
        the scores stay in memory, for the aggregates. After an early stop (``stopped``)
        samples.jsonl and report.html are written for the samples that finished, the error
        causes are printed, and ``stopped`` is raised.
        """
        docs = self.docs
        with ExitStack() as stack:
            out = self._outputs
            if out is None:  # finish without execute: nothing was written while running
                out = _Outputs(
                    samples=stack.enter_context(spooled_samples(self.output_dir)),
                    report=stack.enter_context(ReportWriter(tmp_dir=self.output_dir)),
                )
            start = self._stream.position if self._stream is not None else 0
            if self._stream is not None:
                self._stream.stop()
            tally = self._tally(out.samples, out.report, tally=out.tally, start=start)
            out.samples.save(self.output_dir)
            result = run_result(self, tally, inference_s=inference_s)
            finish_report(out.report, result, self.output_dir)
        for line in summary_lines(tally.error_texts, total=len(docs)):
            print(line, file=sys.stderr)
        if stopped is not None:
            raise stopped
        if tally.errors > allowed_errors(len(docs), self.fraction):
            raise TooManyErrorsError(
                f"{tally.errors} of {len(docs)} samples failed (max_error_fraction="
                f"{self.fraction}); last error: {tally.last_error}; samples.jsonl and "
                "report.html show them, run again to retry them"
            )
        write_results(result, self.output_dir)
        if tally.missing:
            print(
                f"warning: {tally.missing} of {len(docs)} samples have no journal entry and are "
                "left out; run without rescore to complete them",
                file=sys.stderr,
            )
        if not self.quiet:
            print_summary(result, output_dir=str(self.output_dir))
        return result

    def _score_pending(
        self, docs: list[dict[str, Any]], entries: dict[str, dict[str, Any] | None]
    ) -> dict[str, SampleScore | str]:
        """Scores of ``docs`` that this process did not score while running (resumed or
        rescored ones); a scoring failure is its message."""
        bench = self.bench
        to_score = [
            d
            for d in docs
            if (e := entries.get(str(d["doc_id"]))) is not None
            and not e.get("error")
            and str(d["doc_id"]) not in self.stats.scores
        ]

        def score_one(doc: dict[str, Any]) -> tuple[str, SampleScore | str]:
            doc_id = str(doc["doc_id"])
            entry = entries[doc_id]
            assert entry is not None
            try:
                return doc_id, bench.score(doc, outputs_from_json(entry["outputs"]))
            except Exception as err:
                return doc_id, f"scoring failed: {type(err).__name__}: {err}"

        if not bench.score_blocks or len(to_score) < 2:
            return dict(map(score_one, to_score))
        with ThreadPoolExecutor(max_workers=max(1, min(8, bench.params.parallelism))) as pool:
            return dict(pool.map(score_one, to_score))

    def _tally(
        self, *sinks: SamplesWriter | ReportWriter, tally: Tally | None = None, start: int = 0
    ) -> Tally:
        """Walk the documents from index ``start`` on (those before it are in ``tally``
        already), a chunk of journal entries at a time: score what is not scored yet, hand
        each sample to ``sinks``, keep the scores for the aggregates."""
        t, journal = tally if tally is not None else Tally(), self.journal
        try:
            for first in range(start, len(self.docs), _CHUNK):
                chunk = self.docs[first : first + _CHUNK]
                entries = {str(d["doc_id"]): journal.entry(str(d["doc_id"])) for d in chunk}
                rescored = self._score_pending(chunk, entries)
                for doc in chunk:
                    self._count(t, doc, entries, rescored, sinks)
        finally:
            journal.close_reader()
        return t

    def _count(
        self,
        t: Tally,
        doc: dict[str, Any],
        entries: dict[str, dict[str, Any] | None],
        rescored: dict[str, SampleScore | str],
        sinks: tuple[SamplesWriter | ReportWriter, ...],
        *,
        requests: Sequence[Request] | None = None,
    ) -> None:
        doc_id = str(doc["doc_id"])
        entry = entries[doc_id]
        if entry is None:
            t.missing += 1
            return
        error = entry.get("error")
        score: SampleScore | str | None = None
        if not error:
            score = self.stats.scores.pop(doc_id, None) or rescored.get(doc_id)
            if isinstance(score, str):
                error, score = score, None
        if error:
            t.errors += 1
            t.last_error = error
            t.error_texts.append(str(error))
        t.cache_hits += int(bool(entry.get("cache_hit")))
        for key, value in (entry.get("usage") or {}).items():
            t.usage[key] = t.usage.get(key, 0) + int(value)
        sample = sample_record(self.bench, doc, entry, score, error, requests)
        for sink in sinks:
            sink.add(sample)
        if not error:
            assert isinstance(score, SampleScore)
            t.scores.append(self.bench.compact_score(score))


__all__ = ["TaskRun"]
