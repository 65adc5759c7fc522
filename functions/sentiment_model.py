"""One loaded model bundle: the int8 ONNX session and the preprocessing it was trained with."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime

from model_build.bundle import BundleError
from model_build.preprocess import Preprocessor, pad

# A session run costs in proportion to its padded [texts, longest] input, so several texts
# are cut into runs of similar length, each of at most this many ids (and BATCH_SIZE texts).
MAX_BATCH_IDS = 32_768
BATCH_SIZE = 256
PROBABILITY_DIGITS = 6


@dataclass(frozen=True)
class Prediction:
    label: str
    score: float  # the probability of `label`
    probabilities: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "score": self.score, "probabilities": self.probabilities}


def function_vcpus() -> int:
    """The vCPUs this process may use (Lambda: proportional to the function's memory)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def session_options(threads: int) -> onnxruntime.SessionOptions:
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    # Spinning worker threads burn the vCPU that the Python thread needs between runs.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return options


class SentimentModel:
    """Classifies texts with one bundle; safe to share across invocations."""

    def __init__(self, *, version: str, card: dict[str, Any], session: onnxruntime.InferenceSession,
                 preprocessor: Preprocessor) -> None:  # fmt: skip
        self.version = version
        self.card = card
        self.labels = preprocessor.config.labels
        self._session = session
        self._preprocessor = preprocessor
        self._input = preprocessor.config.input_name
        self._output = [preprocessor.config.output_name]
        # the JSON of a Prediction, as a template: uploads write one per line
        label_names = [json.dumps(label, ensure_ascii=False) for label in self.labels]
        self._json_head = [f'{{"label": {name}, "score": ' for name in label_names]
        escaped = [name.replace("{", "{{").replace("}", "}}") for name in label_names]  # for str.format
        self._json_probabilities = ', "probabilities": {{' + ", ".join(f"{name}: {{}}" for name in escaped) + "}}}}"
        self._check_signature()

    @classmethod
    def load(cls, model_path: Path, preprocessor: Preprocessor, card: dict[str, Any], threads: int) -> SentimentModel:
        try:
            session = onnxruntime.InferenceSession(
                str(model_path), sess_options=session_options(threads), providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # onnxruntime raises its own families for a bad graph
            raise BundleError(f"onnxruntime cannot load the model of {card['version']}: {error}") from None
        return cls(version=card["version"], card=card, session=session, preprocessor=preprocessor)

    def _check_signature(self) -> None:
        inputs = {node.name for node in self._session.get_inputs()}
        outputs = {node.name: node.shape for node in self._session.get_outputs()}
        if self._input not in inputs or self._output[0] not in outputs:
            raise BundleError(
                f"the model of {self.version} does not have the input {self._input!r} "
                f"and the output {self._output[0]!r} that preprocess.json names"
            )
        classes = outputs[self._output[0]][-1]
        if isinstance(classes, int) and classes != len(self.labels):
            raise BundleError(f"the model of {self.version} has {classes} outputs for {len(self.labels)} labels")
        # one run now: a graph that loads but cannot run is refused before it serves
        try:
            self.probabilities(["warm up"])
        except Exception as error:
            raise BundleError(f"the model of {self.version} cannot run: {error}") from None

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """``[len(texts), len(labels)]`` float32, in the input order."""
        encoded = self._preprocessor.encode_many(texts)
        if len(encoded) == 1:
            return self._run(pad(encoded))
        result = np.empty((len(encoded), len(self.labels)), dtype=np.float32)
        for rows in _similar_length_batches([len(ids) for ids in encoded]):
            result[rows] = self._run(pad([encoded[row] for row in rows]))
        return result

    def _run(self, ids: np.ndarray) -> np.ndarray:
        return self._session.run(self._output, {self._input: ids})[0]

    def classify(self, texts: Sequence[str]) -> list[Prediction]:
        return self.predictions(self.probabilities(texts))

    def predictions(self, probabilities: np.ndarray) -> list[Prediction]:
        """The prediction of each row of `probabilities` (the first label wins a tie)."""
        rounded, best = _rounded(probabilities)
        labels = self.labels
        return [
            Prediction(labels[index], values[index], dict(zip(labels, values)))
            for values, index in zip(rounded.tolist(), best.tolist())
        ]

    def predictions_json(self, probabilities: np.ndarray) -> tuple[list[str], list[str]]:
        """The label of each row and ``json.dumps(prediction.to_dict(), ensure_ascii=False)``
        of its prediction, built from a template (a test holds the two equal): an upload writes
        one per line, and ``json.dumps`` of a dict per line was a third of the time a line of a
        few words took."""
        rounded, best = _rounded(probabilities)
        if not np.isfinite(rounded).all():  # a broken model: JSON has no NaN, json.dumps knows what to do
            predictions = self.predictions(probabilities)
            return [p.label for p in predictions], [json.dumps(p.to_dict(), ensure_ascii=False) for p in predictions]
        labels, heads, tail = self.labels, self._json_head, self._json_probabilities
        best_list = best.tolist()
        # repr of a float is what json.dumps writes for it
        objects = [
            heads[index] + repr(values[index]) + tail.format(*map(repr, values))
            for values, index in zip(rounded.tolist(), best_list)
        ]
        return [labels[index] for index in best_list], objects


def _rounded(probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities rounded to `PROBABILITY_DIGITS` (as float64, so that each prints short) and
    the index of each row's largest one."""
    rounded = np.round(probabilities.astype(np.float64), PROBABILITY_DIGITS)
    return rounded, rounded.argmax(axis=1)


def _similar_length_batches(lengths: list[int]) -> list[np.ndarray]:
    """Row indices, shortest texts first, cut so that no run pads beyond `MAX_BATCH_IDS`."""
    order = np.argsort(lengths, kind="stable")
    batches, start = [], 0
    while start < len(order):
        end = start + 1
        # ascending order: the text added last is the longest of its run
        while (
            end < len(order) and end - start < BATCH_SIZE and (end - start + 1) * lengths[order[end]] <= MAX_BATCH_IDS
        ):
            end += 1
        batches.append(order[start:end])
        start = end
    return batches
