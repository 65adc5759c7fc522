"""File uploads: moto delivers the S3 notification to SQS, the test receives it and hands it to
functions.uploads as Lambda's event source mapping would."""

import json
import threading

import pytest

from functions import dependencies, uploads
from functions.contract import UPLOAD_WORK_PREFIX
from functions.object_store import Bucket, StorageError
from functions.settings import MIN_UPLOAD_CHUNK_BYTES
from functions.upload_pipeline import UploadProcessor
from infra.settings import UPLOADS_QUEUE

pytestmark = pytest.mark.functional

PREDICTION_FIELDS = {"label", "score", "probabilities", "language", "abstained"}
NOTHING_TO_LEARN_FROM = "\u200b\u200b"  # a text with no token in it: the service abstains (no_evidence)
POSITIVE = ["wonderful superb film", "loved it, brilliant", "a delightful masterpiece"]
NEGATIVE = ["awful boring mess", "dull waste of time", "terrible, clumsy, hated it"]


def reviews(count: int) -> list[str]:
    # varied lengths, so that chunks hold different numbers of lines
    return [((POSITIVE if i % 2 else NEGATIVE)[i % 3] + " and more") * (1 + i % 7) for i in range(count)]


def jsonl(texts) -> bytes:
    return "".join(json.dumps({"id": f"r{i}", "text": text}) + "\n" for i, text in enumerate(texts)).encode()


def upload_and_process(cloud, key: str, data: bytes, context) -> list[dict]:
    cloud.put_data(key, data)
    return cloud.drain(cloud.uploads_queue_url, uploads.lambda_handler, context)


def results(cloud, name: str) -> tuple[list[dict], dict]:
    predictions = cloud.get_data(f"results/{name}.predictions.jsonl")
    lines = [json.loads(line) for line in predictions.decode().splitlines()] if predictions is not None else None
    return lines, json.loads(cloud.get_data(f"results/{name}.summary.json"))


def use_chunk_size(monkeypatch, size: int) -> None:
    monkeypatch.setenv("UPLOAD_CHUNK_BYTES", str(size))
    dependencies.reset()


def test_a_jsonl_upload_gets_one_output_line_per_input_line_in_order(served, lambda_context):
    lines = [
        json.dumps({"id": 1, "text": POSITIVE[0]}),
        "{broken",
        json.dumps({"text": NEGATIVE[0]}),
        json.dumps({"id": [4], "title": "no text"}),
    ]

    responses = upload_and_process(served, "uploads/batch.jsonl", ("\n".join(lines) + "\n").encode(), lambda_context)

    assert all(r == {"batchItemFailures": []} for r in responses)  # the s3:TestEvent included
    predictions, summary = results(served, "batch.jsonl")
    assert [p.get("id") for p in predictions] == [1, None, None, [4]]
    assert [p.get("label") for p in predictions] == ["positive", None, "negative", None]
    assert predictions[1] == {"error": "the line is not valid JSON"}
    assert predictions[3] == {"id": [4], "error": "the line has no text"}
    assert list(predictions[0]) == ["id", "label", "score", "probabilities", "language", "abstained"]
    assert set(predictions[2]) == PREDICTION_FIELDS
    assert summary["status"] == "done" and summary["model_version"] == served.version
    assert (summary["lines"], summary["classified"], summary["answered"], summary["errors"]) == (4, 2, 2, 2)
    assert summary["labels"] == {"negative": 1, "positive": 1}
    assert [e["line"] for e in summary["error_lines"]] == [2, 4]
    assert summary["timings"]["seconds"] >= summary["timings"]["classify_seconds"] > 0


def test_a_line_with_nothing_to_learn_from_is_abstained_on_and_counted_by_reason(served, lambda_context):
    texts = [POSITIVE[0], NOTHING_TO_LEARN_FROM, NEGATIVE[0], POSITIVE[1]]

    upload_and_process(served, "uploads/abstain.jsonl", jsonl(texts) + b"{broken\n", lambda_context)

    predictions, summary = results(served, "abstain.jsonl")
    abstained = predictions[1]
    assert abstained["id"] == "r1"
    assert (abstained["label"], abstained["score"], abstained["probabilities"]) == (None, None, None)
    assert abstained["abstained"]["reason"] == "no_evidence" and abstained["abstained"]["message"]
    assert [p.get("label") for p in predictions] == ["positive", None, "negative", "positive", None]
    assert (summary["lines"], summary["classified"], summary["answered"], summary["errors"]) == (5, 4, 3, 1)
    assert summary["abstained"] == {"unsupported_language": 0, "no_evidence": 1}
    assert summary["labels"] == {"negative": 1, "positive": 2}  # the answered lines only
    assert sum(summary["languages"].values()) == 4
    assert summary["languages"][abstained["language"]] >= 1


def test_the_summary_counts_the_languages_of_the_lines_it_classified(served, lambda_context):
    upload_and_process(served, "uploads/languages.txt", "\n".join([*POSITIVE, *NEGATIVE]).encode(), lambda_context)

    predictions, summary = results(served, "languages.txt")
    detected = [p["language"] for p in predictions]
    assert summary["languages"] == {language: detected.count(language) for language in summary["languages"]}
    assert set(summary["languages"]) == set(detected)
    counts = list(summary["languages"].values())
    assert counts == sorted(counts, reverse=True)  # most frequent first
    assert summary["abstained"] == {"unsupported_language": 0, "no_evidence": 0}


def test_a_csv_upload_reads_quoted_fields_and_keeps_ids(served, lambda_context):
    data = b'id,stars,text\nA,5,"wonderful, superb ""film""\nloved it"\nB,1,awful boring mess\nC,3,\n'

    upload_and_process(served, "uploads/reviews.csv", data, lambda_context)

    predictions, summary = results(served, "reviews.csv")
    assert [(p["id"], p.get("label") or p["error"]) for p in predictions] == [
        ("A", "positive"), ("B", "negative"), ("C", "the line has no text"),
    ]  # fmt: skip
    assert summary["format"] == "csv" and summary["lines"] == 3


def test_a_txt_upload_classifies_each_line(served, lambda_context):
    upload_and_process(served, "uploads/plain.txt", b"wonderful superb film\r\n\r\nawful boring mess", lambda_context)

    predictions, _ = results(served, "plain.txt")
    assert [p.get("label") or p["error"] for p in predictions] == ["positive", "the line is empty", "negative"]


def test_keys_are_url_decoded(served, lambda_context):
    upload_and_process(served, "uploads/team a/my reviews+ü.txt", b"loved it, brilliant\n", lambda_context)

    predictions, summary = results(served, "team a/my reviews+ü.txt")
    assert predictions[0]["label"] == "positive" and summary["input"] == "uploads/team a/my reviews+ü.txt"


def test_a_csv_and_a_jsonl_of_the_same_name_keep_their_own_results(served, lambda_context):
    upload_and_process(served, "uploads/t/a.csv", b"id,text\nc1,wonderful superb film\n", lambda_context)
    upload_and_process(served, "uploads/t/a.jsonl", jsonl(["awful boring mess", "dull waste of time"]), lambda_context)

    csv_predictions, csv_summary = results(served, "t/a.csv")
    jsonl_predictions, jsonl_summary = results(served, "t/a.jsonl")
    assert [p["id"] for p in csv_predictions] == ["c1"] and csv_summary["input"] == "uploads/t/a.csv"
    assert [p["id"] for p in jsonl_predictions] == ["r0", "r1"] and jsonl_summary["input"] == "uploads/t/a.jsonl"
    assert csv_summary["predictions"] == "results/t/a.csv.predictions.jsonl"


def test_an_unsupported_file_gets_a_summary_with_the_error_and_no_retry(served, lambda_context):
    responses = upload_and_process(served, "uploads/slides.pdf", b"%PDF-1.7", lambda_context)

    assert all(r == {"batchItemFailures": []} for r in responses)
    predictions, summary = results(served, "slides.pdf")
    assert predictions is None
    assert summary["status"] == "failed" and "unsupported file type" in summary["error"]


def test_a_csv_without_a_text_column_gets_a_summary_with_the_error(served, lambda_context):
    upload_and_process(served, "uploads/wrong.csv", b"id,review\n1,good\n", lambda_context)

    _, summary = results(served, "wrong.csv")
    assert summary["status"] == "failed" and "'text' column" in summary["error"]


def test_a_file_outside_uploads_is_not_classified(served, lambda_context):
    configuration = served.s3.get_bucket_notification_configuration(Bucket=served.data_bucket)
    (queue,) = configuration["QueueConfigurations"]
    other = {**queue, "Id": "other", "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "inbox/"}]}}}
    served.s3.put_bucket_notification_configuration(
        Bucket=served.data_bucket, NotificationConfiguration={"QueueConfigurations": [queue, other]}
    )

    responses = upload_and_process(served, "inbox/stray.jsonl", jsonl(["good"]), lambda_context)

    assert all(r == {"batchItemFailures": []} for r in responses)
    summary = json.loads(served.get_data("results/inbox/stray.jsonl.summary.json"))
    assert summary["status"] == "failed" and "uploads/" in summary["error"]


def test_only_the_record_that_fails_is_retried(served, lambda_context, monkeypatch):
    served.put_data("uploads/fine.txt", b"loved it\n")
    served.put_data("uploads/unlucky.txt", b"hated it\n")
    messages = [m for m in served.receive(served.uploads_queue_url) if "s3:TestEvent" not in m["Body"]]
    original = Bucket.head

    def throttled(self, key):
        if key == "uploads/unlucky.txt":
            raise StorageError("SlowDown")
        return original(self, key)

    monkeypatch.setattr(Bucket, "head", throttled)
    response = uploads.lambda_handler(served.sqs_event(served.uploads_queue_url, messages), lambda_context)

    unlucky = [m["MessageId"] for m in messages if "unlucky" in m["Body"]]
    assert [item["itemIdentifier"] for item in response["batchItemFailures"]] == unlucky
    assert served.get_data("results/fine.txt.summary.json") is not None
    assert served.get_data("results/unlucky.txt.summary.json") is None


# -- large files: chunks ---------------------------------------------------------------------


def assert_same_predictions(chunked, whole):
    assert [p.get("id") for p in chunked] == [p.get("id") for p in whole]
    assert [p.get("label") for p in chunked] == [p.get("label") for p in whole]
    # int8 dynamic quantization depends slightly on which texts share a run
    assert all(
        abs(a["score"] - b["score"]) < 1e-3 for a, b in zip(chunked, whole, strict=True) if a.get("score") is not None
    )


def test_a_large_file_is_classified_in_chunks_and_joined_in_order(served, lambda_context, monkeypatch):
    texts = reviews(400)
    texts[11] = texts[250] = NOTHING_TO_LEARN_FROM
    data = jsonl(texts).replace(b'{"id": "r7", ', b'{"broken ', 1)
    upload_and_process(served, "uploads/whole.jsonl", data, lambda_context)
    whole, whole_summary = results(served, "whole.jsonl")
    use_chunk_size(monkeypatch, 4096)

    upload_and_process(served, "uploads/chunked.jsonl", data, lambda_context)

    chunked, summary = results(served, "chunked.jsonl")
    assert summary["chunks"] > 5
    assert_same_predictions(chunked, whole)
    assert chunked[7] == {"error": "the line is not valid JSON"}
    counts = ("lines", "classified", "answered", "errors", "labels", "abstained", "languages", "error_lines")
    assert {k: summary[k] for k in counts} == {k: whole_summary[k] for k in counts}
    assert summary["abstained"]["no_evidence"] == 2 and summary["answered"] == 397
    # parts and markers are gone; only tiny markers remain: each run's finished one, and the
    # chunked run's claim and joined ones
    assert sorted(key.rsplit("/", 1)[-1] for key in served.data_keys(UPLOAD_WORK_PREFIX)) == [
        "finished.json",
        "finished.json",
        "join-claim.json",
        "joined.json",
    ]


def test_a_large_csv_is_cut_between_records_not_inside_quotes(served, lambda_context, monkeypatch):
    rows = "".join(f'{i},"{text}, with a comma\nand a newline"\n' for i, text in enumerate(reviews(300)))
    use_chunk_size(monkeypatch, 2048)

    upload_and_process(served, "uploads/quoted.csv", ("id,text\n" + rows).encode(), lambda_context)

    predictions, summary = results(served, "quoted.csv")
    assert summary["chunks"] > 5 and summary["errors"] == 0
    assert [p["id"] for p in predictions] == [str(i) for i in range(300)]


def awkward_csv(rows: int) -> tuple[bytes, int]:
    """A CSV with what its parser must get right: quotes inside unquoted fields, quoted newlines
    (LF and CRLF), escaped quotes, empty lines, non-ASCII; and its number of records."""
    shapes = [
        '{i},the 12" pizza of films: {text}\n',  # a quote that opens nothing
        '{i},"{text}, truly\r\nmoving ""really"""\r\n',
        '{i},"{text}\nsecond line"\n',
        "\n",
        "{i},café crème {text}\r\n",
    ]
    texts = reviews(rows)
    return "".join(shapes[i % len(shapes)].format(i=i, text=texts[i]) for i in range(rows)).encode(), rows


def test_a_large_csv_with_quotes_inside_unquoted_fields_gives_what_the_whole_file_gives(
    served, lambda_context, monkeypatch
):
    body, records = awkward_csv(300)
    data = b"id,text\n" + body
    upload_and_process(served, "uploads/awkward-whole.csv", data, lambda_context)
    whole, whole_summary = results(served, "awkward-whole.csv")
    use_chunk_size(monkeypatch, MIN_UPLOAD_CHUNK_BYTES)

    upload_and_process(served, "uploads/awkward-chunked.csv", data, lambda_context)

    chunked, summary = results(served, "awkward-chunked.csv")
    assert whole_summary["chunks"] == 1 and summary["chunks"] > 10
    assert summary["lines"] == whole_summary["lines"] == records
    assert summary["error_lines"] == whole_summary["error_lines"]
    assert_same_predictions(chunked, whole)


def record_chunk_events(monkeypatch) -> list[dict]:
    """Wraps the handler so that the test can replay the chunk messages it received."""
    seen = []
    handler = uploads.lambda_handler

    def recording(event, context):
        seen.extend(r for r in event["Records"] if "upload_chunk" in r["body"])
        return handler(event, context)

    monkeypatch.setattr(uploads, "lambda_handler", recording)
    return seen


def test_redelivered_chunks_after_the_join_change_nothing(served, lambda_context, monkeypatch):
    use_chunk_size(monkeypatch, 4096)
    seen = record_chunk_events(monkeypatch)
    upload_and_process(served, "uploads/again.jsonl", jsonl(reviews(200)), lambda_context)
    before = served.s3.head_object(Bucket=served.data_bucket, Key="results/again.jsonl.summary.json")

    response = uploads.lambda_handler({"Records": list(seen)}, lambda_context)

    assert response == {"batchItemFailures": []}
    after = served.s3.head_object(Bucket=served.data_bucket, Key="results/again.jsonl.summary.json")
    assert after["LastModified"] == before["LastModified"]
    assert served.data_keys(UPLOAD_WORK_PREFIX) and all(
        k.endswith(("join-claim.json", "joined.json", "finished.json")) for k in served.data_keys(UPLOAD_WORK_PREFIX)
    )


def test_a_join_that_crashed_is_redone_by_its_own_chunk_only(served, lambda_context, monkeypatch):
    use_chunk_size(monkeypatch, 4096)
    seen = record_chunk_events(monkeypatch)
    join = UploadProcessor._join
    crashes = []

    def crash_once(self, task):
        if not crashes:
            crashes.append(task.index)
            raise StorageError("the function timed out mid-join")
        return join(self, task)

    monkeypatch.setattr(UploadProcessor, "_join", crash_once)
    served.put_data("uploads/crash.jsonl", jsonl(reviews(200)))
    served.drain(served.uploads_queue_url, uploads.lambda_handler, lambda_context)  # the failed one stays in flight
    assert served.get_data("results/crash.jsonl.summary.json") is None

    claimant = [r for r in seen if json.loads(r["body"])["upload_chunk"]["index"] == crashes[0]][:1]
    others = [r for r in seen if json.loads(r["body"])["upload_chunk"]["index"] != crashes[0]]
    assert uploads.lambda_handler({"Records": others}, lambda_context) == {"batchItemFailures": []}
    assert served.get_data("results/crash.jsonl.summary.json") is None  # not joined by another chunk

    assert uploads.lambda_handler({"Records": claimant}, lambda_context) == {"batchItemFailures": []}
    predictions, summary = results(served, "crash.jsonl")
    assert summary["lines"] == len(predictions) == 200


def planned_chunks(cloud, key: str, data: bytes, context) -> list[dict]:
    """Uploads ``data``, lets the function plan its chunks and returns the chunk messages,
    received but not yet processed."""
    cloud.put_data(key, data)
    cloud.deliver(cloud.uploads_queue_url, uploads.lambda_handler, context)  # s3:TestEvent + notification
    messages = []
    while batch := cloud.receive(cloud.uploads_queue_url):
        messages.extend(batch)
    assert messages and all("upload_chunk" in m["Body"] for m in messages)
    return messages


def test_chunks_finishing_at_the_same_time_join_once(served, lambda_context, monkeypatch):
    use_chunk_size(monkeypatch, 4096)
    messages = planned_chunks(served, "uploads/race.jsonl", jsonl(reviews(200)), lambda_context)
    *early, last, other_last = messages
    uploads.lambda_handler(served.sqs_event(served.uploads_queue_url, early), lambda_context)

    both_wrote_markers = threading.Barrier(2, timeout=10)
    list_keys, join = Bucket.list_keys, UploadProcessor._join
    joins = []

    def list_after_both_wrote(self, prefix):
        both_wrote_markers.wait()
        return list_keys(self, prefix)

    monkeypatch.setattr(Bucket, "list_keys", list_after_both_wrote)
    monkeypatch.setattr(UploadProcessor, "_join", lambda self, task: joins.append(task.index) or join(self, task))
    responses = []
    threads = [
        threading.Thread(
            target=lambda m=m: responses.append(
                uploads.lambda_handler(served.sqs_event(served.uploads_queue_url, [m]), lambda_context)
            )
        )
        for m in (last, other_last)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert responses == [{"batchItemFailures": []}] * 2
    assert len(joins) == 1
    predictions, summary = results(served, "race.jsonl")
    assert summary["lines"] == len(predictions) == 200


def test_chunks_of_a_file_replaced_meanwhile_are_dropped(served, lambda_context, monkeypatch):
    use_chunk_size(monkeypatch, 4096)
    stale = planned_chunks(served, "uploads/moving.jsonl", jsonl(reviews(200)), lambda_context)

    served.put_data("uploads/moving.jsonl", jsonl(reviews(3)))  # replaced before its chunks ran
    assert uploads.lambda_handler(served.sqs_event(served.uploads_queue_url, stale), lambda_context) == {
        "batchItemFailures": []
    }
    served.drain(served.uploads_queue_url, uploads.lambda_handler, lambda_context)  # the new upload's notification

    predictions, summary = results(served, "moving.jsonl")
    assert summary["lines"] == len(predictions) == 3
    # the stale run left nothing behind: the one marker is the new run's
    assert [key.rsplit("/", 1)[-1] for key in served.data_keys(UPLOAD_WORK_PREFIX)] == ["finished.json"]


def test_the_last_delivery_of_an_upload_that_keeps_failing_reports_it_in_the_summary(
    served, lambda_context, monkeypatch
):
    served.put_data("uploads/doomed.txt", b"loved it\n")
    (message,) = [m for m in served.receive(served.uploads_queue_url) if "s3:TestEvent" not in m["Body"]]

    def unreadable(self, info, start, end):  # every read of the upload fails
        raise StorageError("InternalError")

    monkeypatch.setattr(Bucket, "open_range", unreadable)
    for attempt in range(1, UPLOADS_QUEUE.max_receive_count + 1):
        message["Attributes"]["ApproximateReceiveCount"] = str(attempt)
        response = uploads.lambda_handler(served.sqs_event(served.uploads_queue_url, [message]), lambda_context)
        assert len(response["batchItemFailures"]) == 1
        summary = served.get_data("results/doomed.txt.summary.json")
        assert (summary is not None) == (attempt == UPLOADS_QUEUE.max_receive_count)
    assert json.loads(summary)["status"] == "failed" and "retries are exhausted" in json.loads(summary)["error"]
