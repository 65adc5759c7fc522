"""ONNX export (one file, dynamic batch and sequence axes) and int8 dynamic quantization."""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import warnings
from pathlib import Path

import onnx
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic
from onnxruntime.quantization.shape_inference import quant_pre_process
from torch import nn

from model_build.preprocess import PreprocessConfig

# The embedding tables (Gather) hold nearly every weight, and LSTM weights are the rest. The
# small classifier MatMul stays fp32 on purpose: quantizing it would quantize its input per
# run, so a text's probabilities would shift with whichever texts share its batch.
QUANTIZED_OPERATORS = ("Gather", "LSTM")


class ExportError(Exception):
    """The model could not be exported or quantized."""


def export_onnx(model: nn.Module, preprocess: PreprocessConfig, path: Path) -> None:
    """Exports ``model`` (on CPU, in eval mode) as a single-file fp32 ONNX graph: ids in, logits
    out (serving calibrates them, `PreprocessConfig.calibration`), and per-n-gram logits too
    when the preprocessing names an output for them."""
    model = model.to("cpu").eval()
    if hasattr(model, "for_export"):
        model = model.for_export()
    outputs = [preprocess.output_name]
    if preprocess.ngram_output_name is not None:
        outputs.append(preprocess.ngram_output_name)
    example = torch.randint(1, preprocess.table_rows, (2, 7), dtype=torch.int64)
    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
    with warnings.catch_warnings(), _quiet_exporter():
        warnings.simplefilter("ignore")
        try:
            program = torch.onnx.export(
                model,
                (example,),
                dynamo=True,
                external_data=False,
                input_names=[preprocess.input_name],
                output_names=outputs,
                dynamic_shapes=({0: batch, 1: sequence},),
                optimize=True,
                verbose=False,
            )
            program.save(str(path), external_data=False)
        except Exception as error:  # the exporter raises many unrelated types
            raise ExportError(f"ONNX export failed: {error}") from error
    onnx.checker.check_model(str(path))


def quantize_int8(fp32_path: Path, int8_path: Path) -> None:
    """Dynamic int8 quantization (weights int8, activations quantized at run time).

    ``quant_pre_process`` (ONNX shape inference and graph clean-up) runs first: without it the
    LSTM op is left in fp32. Its symbolic shape pass is skipped: it cannot type the exporter's
    LSTM outputs and adds nothing for these graphs.
    """
    with tempfile.TemporaryDirectory() as scratch:
        prepared = Path(scratch) / "prepared.onnx"
        try:
            with _quiet_exporter():
                quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
                quantize_dynamic(
                    str(prepared),
                    str(int8_path),
                    weight_type=QuantType.QInt8,
                    op_types_to_quantize=list(QUANTIZED_OPERATORS),
                    extra_options={"EnableSubgraph": False},
                )
        except Exception as error:
            raise ExportError(f"int8 quantization failed: {error}") from error
    onnx.checker.check_model(str(int8_path))


def operator_types(path: Path) -> list[str]:
    return sorted({node.op_type for node in onnx.load(str(path), load_external_data=False).graph.node})


class _quiet_exporter:
    """Keeps the exporter's and quantizer's chatter (progress lines, INFO logs) off the console."""

    def __enter__(self):
        self._levels = {}
        for name in ("torch.onnx", "torch.export", "onnxscript", "root"):
            logger = logging.getLogger(None if name == "root" else name)
            self._levels[name] = logger.level
            logger.setLevel(logging.ERROR)
        sys.stdout.flush()
        self._devnull = open(os.devnull, "w")
        self._stdout = os.dup(1)
        os.dup2(self._devnull.fileno(), 1)
        return self

    def __exit__(self, *exc) -> None:
        os.dup2(self._stdout, 1)
        os.close(self._stdout)
        self._devnull.close()
        for name, level in self._levels.items():
            logging.getLogger(None if name == "root" else name).setLevel(level)
