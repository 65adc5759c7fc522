"""Classifying uploaded files: ``uploads/<name>`` -> ``results/<name>.predictions.jsonl`` and
``results/<name>.summary.json`` (`upload_tasks` names the keys).

A file up to the chunk size is streamed, classified in batches and written with a multipart
upload in one invocation. A larger one is split on record boundaries (`upload_chunking`) into
chunk tasks, sent to the same queue and classified in parallel; each chunk writes its
predictions to a part object under ``results/.chunks/<run>/`` and then, with a conditional
write, a marker holding its counts. The chunk whose marker completes the set claims the join
(another conditional write) and concatenates the parts in order, copying them inside S3 where
it can. The join writes the same bytes whoever runs it, so a redelivered chunk that finds its
own claim redoes a join that crashed; a ``joined`` marker stops every later delivery. Reads of
the upload are pinned to the ETag it was planned with: if the file is replaced meanwhile, the
stale run stops and the new upload's own notification produces the results. Every range is
classified by the model its upload's run is routed to, so all the chunks of one upload go to
one version while the pointer stays as it is (the summary names the versions that answered).

Once the summary is written (done or failed), the run's one "Upload Finished" event is put by the
delivery whose conditional write creates the run's ``finished`` marker: a redelivered message, a
second S3 notification of the same upload, or a redone join finds the marker and puts none.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import pairwise

from functions.classification import ModelRouter
from functions.contract import UPLOADS_PREFIX
from functions.events import EventBus, announce, upload_finished
from functions.object_store import Bucket, ObjectChangedError, ObjectInfo, Queue
from functions.observability import count, logger, milliseconds, model_metrics, role_count
from functions.upload_chunking import csv_header_end, csv_record_cuts, line_cuts
from functions.upload_formats import FORMATS, MAX_LINE_BYTES, CsvColumns, UnreadableHeaderError, csv_columns, records
from functions.upload_summary import Tally, failure_summary, summary
from functions.upload_tasks import ChunkTask, Upload

CLASSIFY_BATCH = 256
# json.dumps(value, ensure_ascii=False) without building an encoder per call (one call a line)
_to_json = json.JSONEncoder(ensure_ascii=False).encode


# -- the work ----------------------------------------------------------------------------------


class UploadProcessor:
    def __init__(
        self,
        bucket: Bucket,
        *,
        models: ModelRouter,
        chunk_queue: Callable[[], Queue],
        chunk_bytes: int,
        events: EventBus,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._bucket = bucket
        self._models = models
        self._chunk_queue = chunk_queue
        self._chunk_bytes = chunk_bytes
        self._events = events
        self._clock = clock

    # a file --------------------------------------------------------------------------------

    def process_upload(self, upload: Upload, *, last_attempt: bool = False) -> None:
        """Classifies a small file, or plans the chunks of a large one. An error propagates (the
        message is retried); on the ``last_attempt`` the summary reports the failure first."""
        with self._failing_on(upload, last_attempt):
            self._process_upload(upload)

    def _process_upload(self, upload: Upload) -> None:
        started = self._clock()
        if not upload.key.startswith(UPLOADS_PREFIX):
            return self._fail(upload, f"only files under {UPLOADS_PREFIX} are classified")
        if upload.format is None:
            return self._fail(upload, f"unsupported file type: use {', '.join('.' + f for f in FORMATS)}")
        info = self._bucket.head(upload.key)
        if info is None or info.etag.strip('"') != upload.etag:
            # deleted or replaced since the notification; a replacement has its own notification
            logger.warning("upload superseded, skipped", extra={"key": upload.key})
            return None
        try:
            columns, data_start = self._columns(info, upload.format)
        except UnreadableHeaderError as error:
            return self._fail(upload, str(error))
        if info.size - data_start > self._chunk_bytes:
            return self._plan_chunks(upload, info, columns, data_start, started)
        try:
            with self._bucket.writer(upload.predictions_key) as out:
                tally = self._classify_range(upload.run, info, upload.format, data_start, info.size, columns, out)
        except ObjectChangedError:
            logger.warning("upload changed while classified, skipped", extra={"key": upload.key})
            return None
        self._write_summary(upload, tally, chunks=1, started=started)

    @contextmanager
    def _failing_on(self, upload: Upload, last_attempt: bool) -> Iterator[None]:
        try:
            yield
        except Exception as error:  # whatever stops the last attempt is the file's reason to fail
            if last_attempt:
                self._fail(upload, f"the file could not be classified ({type(error).__name__}); retries are exhausted")
            raise

    def _fail(self, upload: Upload, reason: str) -> None:
        logger.warning("upload failed", extra={"key": upload.key, "reason": reason})
        document = failure_summary(upload, reason)
        self._bucket.put_bytes(upload.summary_key, json.dumps(document, indent=2).encode())
        self._announce(upload, document)

    def _write_summary(self, upload: Upload, tally: Tally, *, chunks: int, started: float) -> None:
        labels = self._models.route(upload.run).labels
        document = summary(upload, tally, chunks=chunks, started=started, finished=self._clock(), labels=labels)
        self._bucket.put_bytes(upload.summary_key, json.dumps(document, indent=2).encode())
        logger.info(
            "upload classified",
            extra={"key": upload.key, "lines": tally.lines, "errors": tally.errors, "chunks": chunks},
        )
        self._announce(upload, document)

    def _announce(self, upload: Upload, document: dict) -> None:
        """Puts the run's event, unless another delivery already wrote the run's finished marker."""
        marker = json.dumps({"status": document["status"], "at": self._clock()}).encode()
        if not self._bucket.create(upload.finished_key, marker):
            logger.info("upload already announced", extra={"key": upload.key, "run": upload.run})
            return
        event = upload_finished(document, bucket=self._bucket.name, summary_key=upload.summary_key, run=upload.run)
        announce(self._events, event)

    def _columns(self, info: ObjectInfo, fmt: str) -> tuple[CsvColumns | None, int]:
        """The CSV columns and where the data rows start (0 and no columns for JSONL and TXT)."""
        if fmt != "csv":
            return None, 0
        head = self._bucket.open_range(info, 0, min(info.size, MAX_LINE_BYTES + 1)).read()
        end = csv_header_end(head)
        if end is None or end == len(head) < info.size:  # no end, or only where the read stopped
            if len(head) > MAX_LINE_BYTES:
                raise UnreadableHeaderError(f"the CSV header is longer than {MAX_LINE_BYTES} bytes")
            end = len(head)
        return csv_columns(head[:end]), end

    # chunks --------------------------------------------------------------------------------

    def _plan_chunks(
        self, upload: Upload, info: ObjectInfo, columns: CsvColumns | None, data_start: int, started: float
    ) -> None:
        if upload.format == "csv":
            cuts = csv_record_cuts(
                self._bucket.open_range(info, data_start, info.size), data_start, info.size, self._chunk_bytes
            )
        else:
            cuts = line_cuts(
                lambda start, end: self._bucket.open_range(info, start, end).read(),
                data_start,
                info.size,
                self._chunk_bytes,
            )
        edges = [data_start, *cuts, info.size]
        tasks = [
            ChunkTask(
                key=upload.key, etag=info.etag, size=info.size, run=upload.run, format=upload.format,
                index=index, count=len(edges) - 1, start=start, end=end, planned_at=started,
                columns=columns.to_dict() if columns else None,
            )
            for index, (start, end) in enumerate(pairwise(edges))
        ]  # fmt: skip
        self._chunk_queue().send_all(task.to_message() for task in tasks)
        logger.info("upload split into chunks", extra={"key": upload.key, "bytes": info.size, "chunks": len(tasks)})

    def process_chunk(self, task: ChunkTask, *, last_attempt: bool = False) -> None:
        """Classifies one chunk and joins the file when it is the last one to finish; errors as
        in `process_upload` (a chunk that never finishes fails the whole file)."""
        with self._failing_on(task.upload, last_attempt):
            self._process_chunk(task)

    def _process_chunk(self, task: ChunkTask) -> None:
        if self._bucket.head(task.joined_key) is not None:
            logger.info("chunk of a joined upload, skipped", extra={"key": task.key, "chunk": task.index})
            return
        try:
            if self._bucket.head(task.done_key(task.index)) is None:
                self._classify_chunk(task)
            self._join_when_complete(task)
        except ObjectChangedError:
            logger.warning(
                "upload changed while classified, chunk dropped", extra={"key": task.key, "chunk": task.index}
            )

    def _classify_chunk(self, task: ChunkTask) -> None:
        started = self._clock()
        columns = CsvColumns(**task.columns) if task.columns else None
        part_key = task.part_key(attempt=uuid.uuid4().hex[:12])
        with self._bucket.writer(part_key) as out:
            tally = self._classify_range(task.run, task.object, task.format, task.start, task.end, columns, out)
        marker = {"part": part_key, "tally": tally.to_dict(), "started": started, "finished": self._clock()}
        if not self._bucket.create(task.done_key(task.index), json.dumps(marker).encode()):
            # another delivery of this chunk finished first: its part is the one joined
            self._bucket.delete_keys([part_key])

    def _join_when_complete(self, task: ChunkTask) -> None:
        if len(self._bucket.list_keys(task.done_prefix)) < task.count:
            return
        claim = json.dumps({"chunk": task.index}).encode()
        if not self._bucket.create(task.claim_key, claim):
            owner = (self._bucket.get_json(task.claim_key) or {}).get("chunk")
            if owner != task.index:
                return  # that chunk joins; if it fails, its redelivery finds its own claim
        if self._bucket.head(task.joined_key) is not None:
            return
        self._join(task)

    def _join(self, task: ChunkTask) -> None:
        upload = task.upload
        markers = [self._bucket.get_json(task.done_key(index)) for index in range(task.count)]
        tally = Tally()
        with self._bucket.writer(upload.predictions_key) as out:
            for marker in markers:
                part = self._bucket.head(marker["part"])
                if part is None:
                    raise ObjectChangedError(f"the part {marker['part']} is missing")
                out.copy_from(part)
                tally.extend(Tally.from_dict(marker["tally"]))
        self._write_summary(upload, tally, chunks=task.count, started=task.planned_at)
        self._bucket.create(task.joined_key, json.dumps({"chunk": task.index, "at": self._clock()}).encode())
        self._bucket.delete_keys([marker["part"] for marker in markers] + [task.done_key(i) for i in range(task.count)])

    # classifying ---------------------------------------------------------------------------

    def _classify_range(
        self, run: str, info: ObjectInfo, fmt: str, start: int, end: int, columns: CsvColumns | None, out
    ) -> Tally:
        began = time.perf_counter()
        model = self._models.route(run)
        role = self._models.role(model.version)
        tally = Tally()
        pending: list = []
        texts: list[str] = []

        def flush() -> None:
            classified = model.classify_lines(texts)
            tally.add_predictions(classified)
            predictions = iter(classified.objects)
            lines = []
            for record in pending:
                tally.lines += 1
                if record.error is not None:
                    tally.add_error(tally.lines, record.error, record.id)
                    entry = {"error": record.error} if record.id is None else {"id": record.id, "error": record.error}
                    lines.append(_to_json(entry))
                elif record.id is None:
                    lines.append(next(predictions))
                else:  # the same object with the input's id first
                    lines.append('{"id": ' + _to_json(record.id) + ", " + next(predictions)[1:])
            if lines:
                out.write(("\n".join(lines) + "\n").encode())
            pending.clear()
            texts.clear()

        stream = self._bucket.open_range(info, start, end)
        try:
            for record in records(stream, fmt, at_file_start=start == 0, columns=columns):
                pending.append(record)
                if record.error is None:
                    texts.append(record.text)
                    if len(texts) >= CLASSIFY_BATCH:
                        flush()
            flush()
        except ObjectChangedError:
            raise  # the upload changed: no fault of the model
        except Exception:
            role_count(role, "Errors", 1)
            raise
        role_count(role, "Predictions", tally.classified)
        tally.model_versions[model.version] += tally.classified
        tally.classify_seconds = time.perf_counter() - began
        with model_metrics(model.version) as metric:
            count(metric, "Predictions", tally.classified)
            count(metric, "BadLines", tally.errors)
            milliseconds(metric, "Latency", tally.classify_seconds)
        return tally
