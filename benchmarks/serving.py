"""``make bench``: the serving figures, measured in one run and printed as a table.

    python -m benchmarks.serving [--models artifacts/models] [--cold-starts 5] [--upload-lines 20000]
                                 [--cold-start-only]

What runs: a moto server in a process of its own with the service's buckets and queues, the
default bundle published to it, and the Lambda handlers called in this process with real-shaped
events: the same resources and events as the functional tests and the local cloud
(`infra.local.harness`, `infra.local.lambda_events`). The benchmark pins itself to one CPU, so
every figure is per core (per Lambda vCPU). Review text comes from the IMDB test split, read at
run time from the shared tarball; none is stored in the repository.

- the Lambda package: its unzipped size, built as ``cdk synth`` builds it (infra/serving_package.py);
- cold start: a fresh Python process, with the variable Lambda sets (so the model loads
  during the import, as in Lambda's init phase) and an empty ``/tmp``, imports
  ``functions.api`` and answers its first ``/classify`` (fetching, verifying and loading the
  bundle); next to its floor, a fresh process that only imports numpy, onnxruntime and boto3
  and builds an S3 client, the least any function serving an ONNX model from S3 does. The two
  run in turns, and the ratio of their medians is the figure; one uncounted round first
  compiles the bytecode both read, as the Lambda package ships bytecode;
- warm ``/classify`` of one review of median length: p50 and p99 of the handler call;
- 64-review requests: reviews per CPU-second through the handler, next to a scikit-learn
  TF-IDF (word 1-2-grams) + logistic regression pipeline predicting the same requests, the two
  taken in turns request by request (a shared machine slows both alike);
- uploads: lines per second of one ``functions.uploads`` invocation on a JSONL file of
  reviews, and the peak Python memory (tracemalloc) for a file and one four times as large;
  then lines per second of TXT files of empty and of one-letter lines, the content that takes
  longest per byte (what ``UPLOAD_CHUNK_BYTES`` is sized by);
- preprocessing alone (``encode_many`` on batches of 64), CPU per review;
- the model alone on the same padded batches: int8 ONNX vs fp32 ONNX vs torch eager.

The bundle: ``artifacts/models`` when ``current.json`` exists there (``make train``), else a
one-epoch model trained once into ``build/bench/models``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from functions.contract import RESULTS_PREFIX, UPLOADS_PREFIX
from infra.deploy_config import DeployConfig
from infra.local.harness import Cloud
from infra.local.lambda_events import LambdaContext, api_event
from infra.local.resources import LOCAL_CREDENTIALS, REGION
from infra.serving_package import PACKAGE_BUDGET_BYTES
from model_build.bundle import FP32_MODEL_FILE, MODEL_FILE, POINTER_FILE, PREPROCESS_FILE
from model_build.preprocess import Preprocessor

REPO_ROOT = Path(__file__).resolve().parents[1]

DEFAULT_MODELS = REPO_ROOT / "artifacts" / "models"
FALLBACK_MODELS = REPO_ROOT / "build" / "bench" / "models"
BATCH = 64

# The floor of a cold start: what any function serving an ONNX model from S3 imports and
# builds, timed in a fresh process from its first line, as the cold start is.
FLOOR_CHILD = """
import time
started, started_cpu = time.perf_counter(), time.process_time()
import json
import numpy, onnxruntime, boto3
boto3.client("s3")
finished, finished_cpu = time.perf_counter(), time.process_time()
print(json.dumps({"floor_ms": (finished - started) * 1000, "cpu_ms": (finished_cpu - started_cpu) * 1000}))
"""

# What a fresh process does, timed from its first line; the parent passes the event on stdin.
COLD_START_CHILD = """
import time
started, started_cpu = time.perf_counter(), time.process_time()
import json, sys
from functions import api
imported = time.perf_counter()
class Context:
    function_name = "bench"; memory_limit_in_mb = 1769; aws_request_id = "cold"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
response = api.lambda_handler(json.loads(sys.stdin.read()), Context())
answered, answered_cpu = time.perf_counter(), time.process_time()
print(json.dumps({"status": response["statusCode"], "import_ms": (imported - started) * 1000,
                  "first_answer_ms": (answered - imported) * 1000, "cpu_ms": (answered_cpu - started_cpu) * 1000}))
"""


COLD_START_RATIO_LIMIT, COLD_START_RATIO_TARGET = 1.2, 1.1  # cold start / floor
LAMBDA_PYTHON = "3.12"  # infra.serving_function.RUNTIME

# What Lambda sets in a new execution environment that the code reacts to: the model starts
# loading during init (functions.dependencies.preload_model_during_init).
LAMBDA_ENVIRONMENT = {"AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand"}


@dataclass
class Row:
    measure: str
    value: str
    target: str = ""
    verdict: str = ""


def _verdict(ok: bool | None) -> str:
    return "" if ok is None else ("met" if ok else "NOT met")


# -- setup ------------------------------------------------------------------------------------


def resolve_models(requested: Path | None) -> Path:
    if requested is not None:
        if not (requested / POINTER_FILE).is_file():
            raise SystemExit(f"{requested} holds no {POINTER_FILE}")
        return requested
    for folder in (DEFAULT_MODELS, FALLBACK_MODELS):
        if (folder / POINTER_FILE).is_file():
            return folder
    from model_build.train import main as train

    print(f"no bundle in {DEFAULT_MODELS}: training a one-epoch model into {FALLBACK_MODELS} (once, a few minutes)")
    if train(["--arch", "bow", "--epochs", "1", "--no-progress", "--out", str(FALLBACK_MODELS)]) != 0:
        raise SystemExit("training the benchmark model failed")
    return FALLBACK_MODELS


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def moto_server(cpu: int | None) -> Iterator[str]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    if cpu is not None:
        os.sched_setaffinity(server.pid, {cpu})
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=10)


def make_cloud(endpoint: str, models: Path) -> Cloud:
    """The service's buckets and queues on the moto server, the bundle published, and this
    process's environment that of the functions (the cold-start processes inherit it)."""
    import boto3

    os.environ.update(LOCAL_CREDENTIALS, AWS_DEFAULT_REGION=REGION, AWS_ENDPOINT_URL=endpoint)
    cloud = Cloud.provision(boto3.client("s3"), boto3.client("sqs"), boto3.client("events"))
    cloud.publish_folder(models)
    os.environ.update(
        cloud.function_environment(),
        POWERTOOLS_LOG_LEVEL="WARNING",
        UPLOAD_CHUNK_BYTES=str(2**30),  # no chunks: one invocation reads the whole file, one worker's rate
        POWERTOOLS_METRICS_DISABLED="true",
    )
    return cloud


# -- measurements -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ColdStarts:
    floors: list[dict[str, float]]
    starts: list[dict[str, float]]

    @property
    def floor_ms(self) -> float:
        return statistics.median(floor["floor_ms"] for floor in self.floors)

    @property
    def total_ms(self) -> float:
        return statistics.median(start["import_ms"] + start["first_answer_ms"] for start in self.starts)


def cold_starts(count: int, text: str) -> ColdStarts:
    """``count`` fresh processes of the floor and of the API function, in turns (a shared
    machine slows both alike), after one of each that is not counted. That one compiles every
    module into a bytecode cache of their own, which the counted ones then read: the Lambda
    package ships compiled bytecode too (infra/serving_package.py)."""
    event = json.dumps(api_event("POST", "/classify", {"text": text}))
    floors, starts = [], []
    environment = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory() as bytecode:
        for _ in range(count + 1):
            floors.append(_fresh_process(FLOOR_CHILD, "", environment, bytecode))
            result = _fresh_process(COLD_START_CHILD, event, {**environment, **LAMBDA_ENVIRONMENT}, bytecode)
            if result["status"] != 200:
                raise SystemExit(f"the cold-start process answered {result['status']}")
            starts.append(result)
    return ColdStarts(floors=floors[1:], starts=starts[1:])


def _fresh_process(code: str, stdin: str, environment: dict[str, str], bytecode: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as scratch:  # a fresh /tmp, as in a new container
        began = time.perf_counter()
        child = subprocess.run(
            [sys.executable, "-c", code],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            env={**environment, "TMPDIR": scratch, "PYTHONPYCACHEPREFIX": bytecode},
            check=True,
        )
        wall = (time.perf_counter() - began) * 1000
    return {**json.loads(child.stdout.strip().splitlines()[-1]), "process_ms": wall}


def package_size(architecture: str) -> int:
    """Bytes of the unzipped Lambda package, built as ``cdk synth`` builds it (the installed
    dependencies come from build/lambda-deps/ after the first build)."""
    from infra.serving_package import ServingPackage, unzipped_size

    with tempfile.TemporaryDirectory() as folder:
        ServingPackage(python_version=LAMBDA_PYTHON, architecture=architecture).build(Path(folder))
        return unzipped_size(Path(folder))


def handler_latencies(handler, events: list[dict], context) -> np.ndarray:
    """Wall seconds of each call."""
    seconds = np.empty(len(events))
    for index, event in enumerate(events):
        began = time.perf_counter()
        response = handler(event, context)
        seconds[index] = time.perf_counter() - began
        if response["statusCode"] != 200:
            raise SystemExit(f"/classify answered {response['statusCode']}: {response['body'][:200]}")
    return seconds


def fit_sklearn_baseline(train_texts: list[str], train_labels: np.ndarray):
    """TF-IDF (word 1-2-grams) + logistic regression, fitted on the training split."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    pipeline = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True), LogisticRegression(max_iter=1000)
    )
    return pipeline.fit(train_texts, train_labels)


def side_by_side(handler, context, baseline, requests: list[list[str]], rounds: int) -> tuple[float, float]:
    """CPU seconds of the /classify handler and of the baseline on the same requests, taken in
    turns (request by request), so that both see the same machine; the best of ``rounds``."""
    events = [api_event("POST", "/classify", {"texts": texts}) for texts in requests]
    best_ours = best_baseline = float("inf")
    for _ in range(rounds):
        ours = theirs = 0.0
        for event, texts in zip(events, requests, strict=True):
            began = time.process_time()
            response = handler(event, context)
            ours += time.process_time() - began
            began = time.process_time()
            baseline.predict_proba(texts)
            theirs += time.process_time() - began
            if response["statusCode"] != 200:
                raise SystemExit(f"/classify answered {response['statusCode']}")
        best_ours, best_baseline = min(best_ours, ours), min(best_baseline, theirs)
    return best_ours, best_baseline


def upload_run(cloud: Cloud, lines: list[str], fmt: str, *, trace_memory: bool) -> tuple[float, float, int]:
    """Wall and CPU seconds of one uploads invocation on a file of these lines, and its peak
    traced Python memory (0 when not traced)."""
    from functions import uploads

    name = f"bench-{uuid.uuid4().hex[:8]}"
    file_name = f"{name}.{fmt}"
    cloud.put_data(UPLOADS_PREFIX + file_name, "".join(line + "\n" for line in lines).encode())
    context = LambdaContext()
    messages = []
    while not messages:
        messages = [m for m in cloud.receive(cloud.uploads_queue_url) if "s3:TestEvent" not in m["Body"]]
    event = cloud.sqs_event(cloud.uploads_queue_url, messages)
    if trace_memory:
        tracemalloc.start()
    began, began_cpu = time.perf_counter(), time.process_time()
    response = uploads.lambda_handler(event, context)
    seconds, cpu_seconds = time.perf_counter() - began, time.process_time() - began_cpu
    peak = tracemalloc.get_traced_memory()[1] if trace_memory else 0
    if trace_memory:
        tracemalloc.stop()
    summary = json.loads(cloud.get_data(f"{RESULTS_PREFIX}{file_name}.summary.json"))  # DESIGN.md's S3 layout
    if response["batchItemFailures"] or summary["lines"] != len(lines):
        raise SystemExit(f"the upload failed: {response}, {summary.get('lines')} lines")
    return seconds, cpu_seconds, peak


def review_lines(reviews: list[str], count: int) -> list[str]:
    """A JSONL file's lines: ``count`` reviews with ids."""
    return [json.dumps({"id": i, "text": reviews[i % len(reviews)]}) for i in range(count)]


def preprocessing_seconds(preprocessor: Preprocessor, reviews: list[str]) -> float:
    """CPU seconds per review of `Preprocessor.encode_many` on batches of 64, best of 3."""
    batches = [reviews[start : start + BATCH] for start in range(0, len(reviews), BATCH)]
    runs = []
    for _ in range(3):
        began = time.process_time()
        for batch in batches:
            preprocessor.encode_many(batch)
        runs.append(time.process_time() - began)
    return min(runs) / len(reviews)


def model_only(models: Path, version: str, encoded: list[np.ndarray]) -> dict[str, float]:
    """Reviews per second of each runtime on identical length-sorted, padded batches."""
    import onnxruntime

    from functions.sentiment_model import session_options
    from model_build.preprocess import pad

    order = np.argsort([len(ids) for ids in encoded], kind="stable")
    batches = [pad([encoded[i] for i in order[start : start + BATCH]]) for start in range(0, len(order), BATCH)]

    def rate(run) -> float:
        run(batches[0])
        began = time.perf_counter()
        for batch in batches:
            run(batch)
        return len(encoded) / (time.perf_counter() - began)

    rates = {}
    for label, name in (("int8 ONNX", MODEL_FILE), ("fp32 ONNX", FP32_MODEL_FILE)):
        path = models / version / name
        if path.is_file():
            session = onnxruntime.InferenceSession(str(path), session_options(1), providers=["CPUExecutionProvider"])
            first = [session.get_outputs()[0].name]  # the logits, all that serving asks for
            rates[label] = rate(lambda ids, s=session, out=first: s.run(out, {"input_ids": ids}))
    torch_model = torch_eager_model(models, version)
    if torch_model is not None:
        import torch

        torch.set_num_threads(1)

        def run_torch(ids: np.ndarray) -> None:
            with torch.inference_mode():
                torch_model(torch.from_numpy(ids))

        rates["torch eager"] = rate(run_torch)
    return rates


def torch_eager_model(models: Path, version: str):
    """The exported module rebuilt in torch from the fp32 ONNX weights, when the architecture's
    export keeps its parameter names (bow does); None otherwise."""
    import onnx
    import torch
    from onnx import numpy_helper

    from model_build import models as architectures
    from model_build.preprocess import PreprocessConfig

    card = json.loads((models / version / "card.json").read_text())
    architecture = architectures.load(card["architecture"])
    rows = PreprocessConfig.from_json((models / version / PREPROCESS_FILE).read_text()).table_rows
    module = architecture.Model(architecture.Config(**card["model_config"]), rows)
    exported = module.for_export() if hasattr(module, "for_export") else module
    graph = onnx.load(str(models / version / FP32_MODEL_FILE)).graph
    weights = {init.name: torch.from_numpy(numpy_helper.to_array(init).copy()) for init in graph.initializer}
    state = exported.state_dict()
    if not set(state) <= set(weights):
        return None
    exported.load_state_dict({name: weights[name] for name in state})
    return exported.eval()


# -- the run ----------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> list[Row]:
    from model_build.data import load_imdb

    models = resolve_models(args.models)
    cpus = sorted(os.sched_getaffinity(0))
    bench_cpu, server_cpu = cpus[0], (cpus[1] if len(cpus) > 1 else None)
    dataset = load_imdb(progress=False)
    reviews = dataset.test.texts
    rng = np.random.default_rng(0)
    sample = [reviews[i] for i in rng.permutation(len(reviews))[: args.reviews]]
    median_length = statistics.median(len(text) for text in reviews)
    typical = min(sample, key=lambda text: abs(len(text) - median_length))

    rows: list[Row] = [package_row(DeployConfig().architecture)]
    with moto_server(server_cpu) as endpoint:
        os.sched_setaffinity(0, {bench_cpu})  # from here on: one core, as one Lambda vCPU
        cloud = make_cloud(endpoint, models)
        rows.append(
            Row(
                "bundle",
                f"{cloud.version} ({(models / cloud.version / MODEL_FILE).stat().st_size / 2**20:.1f} MiB int8)",
            )
        )
        rows += cold_start_rows(cold_starts(args.cold_starts, typical))
        if args.cold_start_only:
            return rows

        from functions import api, dependencies

        dependencies.reset()
        context = LambdaContext()
        single = handler_latencies(
            api.lambda_handler, [api_event("POST", "/classify", {"text": typical})] * (args.single + 50), context
        )[50:]
        p50, p99 = np.percentile(single, 50) * 1000, np.percentile(single, 99) * 1000
        rows += [
            Row(
                f"warm /classify, 1 review of {len(typical)} chars: p50", f"{p50:.2f} ms", "<= 2 ms", _verdict(p50 <= 2)
            ),
            Row("warm /classify, 1 review: p99", f"{p99:.2f} ms", "<= 2 ms", _verdict(p99 <= 2)),
        ]

        requests = [sample[start : start + BATCH] for start in range(0, len(sample) - BATCH + 1, BATCH)]
        baseline = fit_sklearn_baseline(dataset.train.texts, dataset.train.labels)
        ours, theirs = side_by_side(api.lambda_handler, context, baseline, requests, rounds=3)
        reviews_sent = sum(map(len, requests))
        rows += [
            Row("64-review /classify: reviews/s per core (CPU time)", f"{reviews_sent / ours:,.0f}"),
            Row("scikit-learn TF-IDF(1-2) + LR, same requests in turn", f"{reviews_sent / theirs:,.0f}"),
            Row("  ratio", f"{theirs / ours:.2f}x", ">= 3x", _verdict(theirs / ours >= 3)),
        ]

        file = review_lines(sample, args.upload_lines)
        upload_seconds, upload_cpu = min(upload_run(cloud, file, "jsonl", trace_memory=False)[:2] for _ in range(2))
        lines_per_second = args.upload_lines / upload_seconds
        small_lines = max(args.upload_lines // 8, 500)
        *_, small_peak = upload_run(cloud, review_lines(sample, small_lines), "jsonl", trace_memory=True)
        *_, large_peak = upload_run(cloud, review_lines(sample, small_lines * 4), "jsonl", trace_memory=True)
        # what sizes UPLOAD_CHUNK_BYTES: the content with the most lines per byte
        short_lines = args.upload_lines * 25
        short_rates = [
            short_lines / upload_run(cloud, [line] * short_lines, "txt", trace_memory=False)[0] for line in ("", "x")
        ]
        rows += [
            Row(
                f"uploads: lines/s, one invocation, {args.upload_lines:,} reviews, wall (CPU), best of 2",
                f"{lines_per_second:,.0f} ({args.upload_lines / upload_cpu:,.0f})",
                ">= 5,000",
                _verdict(lines_per_second >= 5000),
            ),
            Row(
                f"uploads: peak traced memory, {small_lines:,} vs {small_lines * 4:,} lines",
                f"{small_peak / 2**20:.1f} vs {large_peak / 2**20:.1f} MiB",
                "flat",
                _verdict(large_peak < 1.5 * small_peak),
            ),
            Row(
                f"uploads: lines/s of {short_lines:,} empty / one-letter lines (TXT)",
                f"{short_rates[0]:,.0f} / {short_rates[1]:,.0f}",
            ),
        ]

        preprocessor = Preprocessor.from_json((models / cloud.version / PREPROCESS_FILE).read_bytes())
        rows.append(
            Row(
                "preprocessing alone, batches of 64: CPU per review",
                f"{preprocessing_seconds(preprocessor, sample) * 1e6:.1f} µs",
            )
        )
        rates = model_only(models, cloud.version, preprocessor.encode_many(sample))
        int8 = rates["int8 ONNX"]
        rows += [
            Row(f"model only, batches of 64: {name}", f"{rate:,.0f} reviews/s ({rate / int8:.2f}x int8)")
            for name, rate in rates.items()
        ]
    return rows


def package_row(architecture: str) -> Row:
    size = package_size(architecture)
    return Row(
        f"Lambda package ({architecture}), unzipped",
        f"{size / 2**20:.1f} MiB ({size:,} bytes)",
        f"<= {PACKAGE_BUDGET_BYTES / 2**20:.0f} MiB",
        _verdict(size <= PACKAGE_BUDGET_BYTES),
    )


def cold_start_rows(measured: ColdStarts) -> list[Row]:
    starts, ratio = measured.starts, measured.total_ms / measured.floor_ms
    return [
        Row("cold start floor: import numpy, onnxruntime, boto3 + an S3 client", f"{measured.floor_ms:.0f} ms"),
        Row(
            "cold start: import functions.api, the model loading meanwhile",
            f"{statistics.median(s['import_ms'] for s in starts):.0f} ms",
        ),
        Row(
            "cold start: first /classify (waits for the model if still loading)",
            f"{statistics.median(s['first_answer_ms'] for s in starts):.0f} ms",
        ),
        Row("cold start: import + first answer", f"{measured.total_ms:.0f} ms"),
        Row(
            "  ratio to the floor",
            f"{ratio:.2f}x",
            f"<= {COLD_START_RATIO_LIMIT}x ({COLD_START_RATIO_TARGET}x)",
            _verdict(ratio <= COLD_START_RATIO_LIMIT),
        ),
        Row(
            "cold start: CPU time of import + first answer", f"{statistics.median(s['cpu_ms'] for s in starts):.0f} ms"
        ),
        Row(
            "cold start: whole process incl. interpreter (floor's)",
            f"{statistics.median(s['process_ms'] for s in starts):.0f} ms "
            f"({statistics.median(f['process_ms'] for f in measured.floors):.0f} ms)",
        ),
    ]


def print_table(rows: list[Row]) -> None:
    widths = [max(len(getattr(row, name)) for row in rows) for name in ("measure", "value", "target")]
    header = f"{'measure':<{widths[0]}}  {'value':<{widths[1]}}  {'target':<{widths[2]}}  verdict"
    print(header)
    print("-" * len(header))
    for row in rows:
        print(f"{row.measure:<{widths[0]}}  {row.value:<{widths[1]}}  {row.target:<{widths[2]}}  {row.verdict}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument(
        "--models", type=Path, default=None, help="a models folder with current.json (default: see above)"
    )
    parser.add_argument("--cold-starts", type=int, default=5, help="fresh processes to time")
    parser.add_argument("--single", type=int, default=1000, help="warm single-review requests to time")
    parser.add_argument("--reviews", type=int, default=2048, help="test reviews in the 64-review requests")
    parser.add_argument("--upload-lines", type=int, default=20_000, help="lines of the uploaded file")
    parser.add_argument("--cold-start-only", action="store_true", help="only the package size and the cold start")
    args = parser.parse_args(argv)
    # the handlers flush Powertools metrics for the cold-start metric only: not worth a warning
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    rows = run(args)
    print()
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
