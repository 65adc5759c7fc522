"""``make bench-local``: a bounded load run against the local cloud, on loopback only.

    python -m benchmarks.local_cloud [--clients 16] [--requests 2000] [--models artifacts/models]

Starts ``python -m infra.local --no-throttle`` (the usage plan's 50 requests/s per key would
otherwise be what is measured), sends ``--requests`` ``POST /classify`` requests of one review
of typical length from ``--clients`` concurrent keep-alive clients, prints requests per second
and the p50 and p99 latency as the clients saw them, and stops the local cloud. It exits 1 when
any request failed. Every request goes client -> local API Gateway -> a function container ->
onnxruntime and back, on the same machine as the load generator.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from infra.local.process import LocalCloudError, LocalCloudProcess

# about the median length of an IMDB review (~1,000 characters); written here, not from the dataset
REVIEW = (
    "I went in expecting very little and came out genuinely moved. The first half hour is slow, "
    "and a subplot about the brother never really goes anywhere, but the two leads carry the film "
    "with warmth and timing that feel completely unforced. The photography of the coastline is "
    "gorgeous without ever becoming a postcard, and the score knows when to stay quiet. Some of "
    "the dialogue in the middle act is clumsy, and one scene in the hospital is played far too "
    "broadly for a story this gentle. Still, the final twenty minutes tie the threads together "
    "with real care, and the last shot stayed with me for days. It is not a perfect film, and it "
    "will not be for everyone, but it is honest, well acted and much smarter than its trailer "
    "suggests. I would happily watch it again, and I have already recommended it to friends who "
    "usually avoid this kind of drama. Worth seeing on the biggest screen you can find."
)


@dataclass
class LoadResult:
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]

    def report(self, clients: int) -> str:
        total = len(self.latencies) + len(self.errors)
        if not self.latencies:
            return f"{total} POST /classify from {clients} clients: every one failed"
        return (
            f"{total} POST /classify (one review, {len(REVIEW)} characters) from {clients} clients "
            f"in {self.seconds:.1f} s\n"
            f"  requests/s {total / self.seconds:.0f}   p50 {1000 * self.percentile(0.50):.1f} ms   "
            f"p99 {1000 * self.percentile(0.99):.1f} ms   mean {1000 * statistics.fmean(self.latencies):.1f} ms   "
            f"errors {len(self.errors)}"
        )


def run_load(api_url: str, api_key: str, *, clients: int, total: int) -> LoadResult:
    """``total`` requests from ``clients`` threads, each with a keep-alive session of its own."""
    result = LoadResult()
    remaining = iter(range(total))
    lock = threading.Lock()

    def client() -> None:
        with requests.Session() as session:
            session.headers["x-api-key"] = api_key
            while True:
                with lock:
                    if next(remaining, None) is None:
                        return
                started = time.perf_counter()
                try:
                    response = session.post(f"{api_url}/classify", json={"text": REVIEW}, timeout=30)
                    outcome = None if response.status_code == 200 else f"HTTP {response.status_code}"
                except requests.RequestException as error:
                    outcome = type(error).__name__
                elapsed = time.perf_counter() - started
                with lock:
                    if outcome is None:
                        result.latencies.append(elapsed)
                    else:
                        result.errors.append(outcome)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - started
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.local_cloud", description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument(
        "--models", type=Path, default=Path("artifacts/models"), help="local bundle folder (default: %(default)s)"
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=Path("build/bench-local"),
        help="the local cloud's logs (default: %(default)s)",
    )
    args = parser.parse_args(argv)

    cloud = LocalCloudProcess(
        api_keys=[secrets.token_urlsafe(24)], models=args.models, state_dir=args.state_dir, extra_args=["--no-throttle"]
    )
    try:
        with cloud:
            # one request per client first: the containers start and load the model before timing
            run_load(cloud.api_url, cloud.api_keys[0], clients=args.clients, total=args.clients)
            result = run_load(cloud.api_url, cloud.api_keys[0], clients=args.clients, total=args.requests)
    except LocalCloudError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(result.report(args.clients))
    for error, count in sorted({e: result.errors.count(e) for e in result.errors}.items()):
        print(f"  {count} x {error}")
    return 1 if result.errors else 0


if __name__ == "__main__":
    sys.exit(main())
