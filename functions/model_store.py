"""The models a container serves: found through ``current.json``, verified, loaded once, swapped
when the pointer changes.

The pointer names the version served and may name a canary with a weight; the store then holds
both and `ModelStore.route` picks, for each unit of work (a request, a job, an upload), the
canary with that probability and the current version otherwise. A unit is answered wholly by
the model it was routed to (its answer names that version). A key routes the same way every
time (the chunks of one upload all go to one version); without one the draw is random (the
source of randomness is injectable for tests). A canary that is completed becomes the current
model without a reload; one that is dropped is unloaded.

The store re-reads the pointer at most every ``refresh_seconds`` (every second while it has no
model at all). A new version is downloaded into its own folder under the cache directory,
verified (the card against the pointer's sha256, every file it loads against the card) and
loaded; only then does it replace the model being served. A bundle that fails any of that is
refused (logged, counted) and not tried again until the pointer changes; the last good model
keeps serving. Any other failure while refreshing (S3 unreachable, a full or read-only /tmp, a
dropped connection mid-download) is taken as transient: the last good model keeps serving, the
failure is logged and counted, and the next attempt waits longer each time (1 s, 2 s, 4 s ... up
to a minute), so a broken refresh never fails a request nor makes every request retry it under
the lock. Folders of versions no longer served are removed.
"""

from __future__ import annotations

import hashlib
import random
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from functions.object_store import Bucket, StorageError
from functions.observability import count, logger, milliseconds, model_metrics, role_count, subsegment
from model_build import bundle
from model_build.bundle import BundleError, Pointer, Release

if TYPE_CHECKING:
    from functions.sentiment_model import SentimentModel

NO_MODEL_RETRY_SECONDS = 1.0
# after consecutive failed refreshes the next one waits FIRST * 2**(failures - 1), at most MAX
FIRST_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 60.0


Role = Literal["current", "canary"]  # contract.CURRENT_ROLE, contract.CANARY_ROLE


class ModelUnavailableError(Exception):
    """No model can be served: none is published, or none published so far could be loaded."""


@dataclass(frozen=True)
class _Serving:
    """What the store serves: replaced whole, so a request reads one consistent state."""

    current: SentimentModel
    current_card_sha256: str
    canary: SentimentModel | None = None
    canary_card_sha256: str | None = None
    weight: float = 0.0

    def loaded(self) -> dict[tuple[str, str], SentimentModel]:
        models = {(self.current.version, self.current_card_sha256): self.current}
        if self.canary is not None and self.canary_card_sha256 is not None:
            models[(self.canary.version, self.canary_card_sha256)] = self.canary
        return models

    def versions(self) -> set[str]:
        return {version for version, _ in self.loaded()}


@dataclass(frozen=True)
class ModelSource:
    bucket: Bucket
    prefix: str  # "models/"

    def key(self, name: str) -> str:
        return self.prefix + name

    def describe(self, name: str) -> str:
        return f"s3://{self.bucket.name}/{self.key(name)}"


class ModelStore:
    def __init__(
        self,
        source: ModelSource,
        cache_dir: Path,
        *,
        refresh_seconds: float,
        threads: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self._source = source
        self._cache_dir = cache_dir
        self._refresh_seconds = refresh_seconds
        self._threads = threads  # onnxruntime's; None: the vCPUs this process may use
        self._clock = clock
        self._draw = draw  # uniform in [0, 1): routes work that has no key
        self._lock = threading.Lock()
        self._serving: _Serving | None = None
        self._seen: Pointer | None = None  # the pointer last acted on, whether loaded or refused
        self._problem = "no model has been loaded yet"
        self._next_check = float("-inf")
        self._failed_refreshes = 0

    def current(self) -> SentimentModel:
        """The current model (not the canary): the one ``GET /model`` describes; raises
        `ModelUnavailableError` when there is none."""
        return self._refreshed().current

    def route(self, key: str | None = None) -> SentimentModel:
        """The model that answers one unit of work: the canary with the pointer's weight, the
        current model otherwise. Work with the same ``key`` goes the same way."""
        serving = self._refreshed()
        if serving.canary is not None and self._share(key) < serving.weight:
            return serving.canary
        return serving.current

    def labels(self) -> tuple[str, ...]:
        """Every label an answer may carry now: the current model's, then a canary's others."""
        serving = self._refreshed()
        labels = list(serving.current.labels)
        if serving.canary is not None:
            labels += [label for label in serving.canary.labels if label not in labels]
        return tuple(labels)

    def role(self, version: str) -> Role | None:
        """``version``'s part while a canary is served, None while there is none."""
        serving = self._serving
        if serving is None or serving.canary is None:
            return None
        return "canary" if version == serving.canary.version else "current"

    def _share(self, key: str | None) -> float:
        if key is None:
            return self._draw()
        return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64

    @property
    def _model(self) -> SentimentModel | None:
        return None if self._serving is None else self._serving.current

    def _refreshed(self) -> _Serving:
        if self._clock() >= self._next_check:
            with self._lock:
                if self._clock() >= self._next_check:
                    self._refresh()
        serving = self._serving
        if serving is None:
            raise ModelUnavailableError(f"no model is available: {self._problem}")
        return serving

    def preload(self) -> None:
        """Loads the published model now, ahead of the first request. When no model can be
        loaded it raises `ModelUnavailableError`, and the first request tries again (and
        answers with the problem) instead of waiting for the retry interval."""
        with self._lock:
            self._refresh()
            if self._model is None:
                self._next_check = float("-inf")
                raise ModelUnavailableError(f"no model is available: {self._problem}")

    def _refresh(self) -> None:
        try:
            pointer = self._read_pointer()
            if pointer is not None and pointer != self._seen:
                self._apply(pointer)
            self._failed_refreshes = 0
        except Exception as error:  # noqa: BLE001 - whatever breaks a refresh must not break a request
            self._failed(error)
        self._next_check = self._clock() + self._interval()

    def _failed(self, error: Exception) -> None:
        """A refresh that may succeed later: the last good model keeps serving, the next try waits."""
        self._failed_refreshes += 1
        if isinstance(error, (StorageError, OSError)):
            logger.warning("cannot refresh the model", extra={"error": str(error), "error_type": type(error).__name__})
        else:  # not a failure this module foresaw: keep its trace
            logger.exception("cannot refresh the model", extra={"error_type": type(error).__name__})
        self._problem = f"the published model cannot be fetched ({type(error).__name__}: {error})"
        with model_metrics(self._model.version if self._model else "none") as metric:
            count(metric, "FailedModelRefreshes", 1)

    def _interval(self) -> float:
        """Seconds until the next look at the pointer."""
        if self._failed_refreshes:
            backoff = min(FIRST_BACKOFF_SECONDS * 2 ** (self._failed_refreshes - 1), MAX_BACKOFF_SECONDS)
            return max(backoff, self._refresh_seconds) if self._model is not None else backoff
        return self._refresh_seconds if self._model is not None else min(self._refresh_seconds, NO_MODEL_RETRY_SECONDS)

    def _read_pointer(self) -> Pointer | None:
        data = self._source.bucket.get_bytes(self._source.key(bundle.POINTER_FILE))
        if data is None:
            self._problem = f"nothing is published at {self._source.describe(bundle.POINTER_FILE)}"
            return None
        try:
            return Pointer.from_json(data)
        except BundleError as error:
            self._problem = f"{self._source.describe(bundle.POINTER_FILE)} is invalid ({error})"
            logger.error("refused the model pointer", extra={"error": str(error)})
            return None

    def _apply(self, pointer: Pointer) -> None:
        """Serves what ``pointer`` names. Models already loaded are kept (a completed canary
        becomes the current model as it is); a current version that is refused leaves
        everything as it was, a refused canary leaves the current version serving alone."""
        loaded = {} if self._serving is None else self._serving.loaded()
        current = self._model_of(Release(pointer.version, pointer.card_sha256), loaded, "current")
        if current is None:
            self._seen = pointer
            return
        canary = None
        if pointer.canary is not None:
            canary = self._model_of(pointer.canary.release, loaded, "canary")
        previous = self._serving
        self._serving = _Serving(
            current, pointer.card_sha256,
            canary, pointer.canary.release.card_sha256 if canary and pointer.canary else None,
            pointer.canary.weight if canary and pointer.canary else 0.0,
        )  # fmt: skip
        self._seen = pointer
        if previous is None or previous.current is not current or previous.canary is not canary:
            logger.info(
                "serving a model",
                extra={"model_version": current.version, "previous_version": previous and previous.current.version,
                       "canary_version": canary and canary.version, "canary_weight": self._serving.weight},
            )  # fmt: skip
        self._remove_other_versions(keep=self._serving.versions())

    def _model_of(
        self, release: Release, loaded: dict[tuple[str, str], SentimentModel], role: Role
    ) -> SentimentModel | None:
        """The model of ``release``, as loaded already or loaded now; None if it is refused."""
        model = loaded.get((release.version, release.card_sha256))
        if model is not None:
            return model
        started = time.perf_counter()
        try:
            with subsegment("load_model"):
                model = self._load(release)
        except BundleError as error:
            self._problem = f"the published bundle {release.version} was refused ({error})"
            logger.error(
                "refused a model bundle", extra={"model_version": release.version, "role": role, "error": str(error)}
            )
            with model_metrics(release.version) as metric:
                count(metric, "RefusedBundles", 1)
            role_count(role if role == "canary" else None, "RefusedBundles", 1)
            return None
        seconds = time.perf_counter() - started
        logger.info(
            "loaded a model", extra={"model_version": model.version, "role": role, "load_ms": round(seconds * 1000, 1)}
        )
        with model_metrics(model.version) as metric:
            milliseconds(metric, "ModelLoadTime", seconds)
        return model

    def _load(self, pointer: Release) -> SentimentModel:
        version = pointer.version
        folder = self._cache_dir / version
        shutil.rmtree(folder, ignore_errors=True)  # a previous attempt's leftovers
        folder.mkdir(parents=True)
        model_path = folder / bundle.MODEL_FILE
        try:
            # The three reads start together (a cold start waits for the slowest, not the sum);
            # nothing is used before the card, verified against the pointer, vouches for it.
            with ThreadPoolExecutor(max_workers=3) as pool:
                card_data = pool.submit(self._read, version, bundle.CARD_FILE)
                preprocess_data = pool.submit(self._read, version, bundle.PREPROCESS_FILE)
                model_sha256 = pool.submit(
                    self._source.bucket.download, self._source.key(f"{version}/{bundle.MODEL_FILE}"), model_path
                )
            card = bundle.parse_card(card_data.result(), expected_sha256=pointer.card_sha256)
            if card["version"] != version:
                raise BundleError(f"the card of {version} names the version {card['version']}")
            bundle.verify_file(card, bundle.PREPROCESS_FILE, preprocess_data.result())
            # Imported now, not with this module: on a cold start the handler module imports numpy
            # and onnxruntime while the reads above are under way
            # (functions.dependencies.preload_model_during_init), and only what follows needs them.
            from functions.sentiment_model import SentimentModel, function_vcpus
            from model_build.preprocess import PreprocessConfigError, Preprocessor

            try:
                preprocessor = Preprocessor.from_json(preprocess_data.result())
            except PreprocessConfigError as error:
                raise BundleError(str(error)) from None
            if model_sha256.result() is None:
                raise BundleError(f"{self._source.describe(f'{version}/{bundle.MODEL_FILE}')} does not exist")
            if model_sha256.result() != card.get("files", {}).get(bundle.MODEL_FILE, {}).get("sha256"):
                # the hash was taken while downloading; verify_file words the refusal
                bundle.verify_file(card, bundle.MODEL_FILE, model_path)
            threads = function_vcpus() if self._threads is None else self._threads
            return SentimentModel.load(model_path, preprocessor, card, threads)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise

    def _read(self, version: str, name: str) -> bytes:
        data = self._source.bucket.get_bytes(self._source.key(f"{version}/{name}"))
        if data is None:
            raise BundleError(f"{self._source.describe(f'{version}/{name}')} does not exist")
        return data

    def _remove_other_versions(self, keep: set[str]) -> None:
        for folder in self._cache_dir.iterdir():
            if folder.is_dir() and folder.name not in keep:
                shutil.rmtree(folder, ignore_errors=True)
