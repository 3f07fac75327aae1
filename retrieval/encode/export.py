"""Turn a sentence-transformers model folder into the ONNX files `onnx` runs.

This is the only module that imports torch, and it runs in a child process
(`python -m retrieval.encode.export MODEL_DIR OUT_DIR`), once per machine and model: the process
that answers questions never pays torch's import time or keeps its memory.

It writes, each atomically (a temporary name, then `os.replace`):

- `model.onnx`: the transformer with mean pooling and L2 normalisation inside the graph, so
  ONNX Runtime returns finished embeddings; attention and layer norms fused by ONNX Runtime's
  transformer optimiser (float32, the same numbers as the torch path within rounding).
- `model-int8.onnx`: the same graph with int8 weights in every matrix product (dynamic
  quantization, one scale per output channel: per-tensor scales lost too much, cosine 0.89 to
  float32 on some passages). The embedding table stays float32: a lookup costs nothing to run.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

FLOAT_FILE = "model.onnx"
INT8_FILE = "model-int8.onnx"
OPSET = 17
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT = "embedding"


def export(model_dir: Path, out_dir: Path) -> None:
    """Write `model.onnx` and `model-int8.onnx` for the model in `model_dir` into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".export-") as tmp:
        raw = Path(tmp) / "raw.onnx"
        _export_torch(model_dir, raw)
        fused = Path(tmp) / FLOAT_FILE
        optimise(model_dir, raw, fused)
        int8 = Path(tmp) / INT8_FILE
        quantise(fused, int8)
        # int8 first: a reader finding model.onnx may rely on the pair being complete.
        for name in (INT8_FILE, FLOAT_FILE):
            with open(Path(tmp) / name, "rb") as handle:
                os.fsync(handle.fileno())
            os.replace(Path(tmp) / name, out_dir / name)


def _export_torch(model_dir: Path, dest: Path) -> None:
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    # Eager attention traces to plain MatMul/Softmax, which ONNX Runtime's optimiser fuses into
    # one Attention node; the SDPA trace is left unfused and runs slower.
    model: Any = AutoModel.from_pretrained(
        str(model_dir), attn_implementation="eager", local_files_only=True
    ).eval()

    class Pooled(torch.nn.Module):
        """Transformer, then mean pooling over real tokens, then L2 normalisation."""

        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor,
            token_type_ids: torch.Tensor,
        ) -> torch.Tensor:
            tokens = self.inner(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=token_type_ids,
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
            summed = (tokens * mask).sum(dim=1)
            mean = summed / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2.0, dim=1)

    sample = torch.ones((2, 8), dtype=torch.long)
    axes = {name: {0: "batch", 1: "tokens"} for name in INPUTS}
    axes[OUTPUT] = {0: "batch"}
    with warnings.catch_warnings(), torch.no_grad():
        # The TorchScript exporter warns that it is deprecated and that shape checks become
        # constants; the checks it names are about padding past the mask, which we never do.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Pooled(model),
            (sample, sample, torch.zeros_like(sample)),
            str(dest),
            dynamo=False,
            input_names=list(INPUTS),
            output_names=[OUTPUT],
            dynamic_axes=axes,
            opset_version=OPSET,
        )


def optimise(model_dir: Path, src: Path, dest: Path) -> None:
    """Fuse a BERT graph's attention and layer norms (ONNX Runtime's transformer optimiser)."""
    from onnxruntime.transformers import optimizer

    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    model = optimizer.optimize_model(
        str(src),
        model_type="bert",
        num_heads=int(config.get("num_attention_heads", 0)),
        hidden_size=int(config.get("hidden_size", 0)),
    )
    model.save_model_to_file(str(dest))


def quantise(src: Path, dest: Path, *, embeddings: bool = False) -> None:
    """int8 weights in every matrix product, one scale per output channel; with `embeddings`,
    the token embedding table too (a quarter of the file, at a small cost in accuracy)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    ops = ["MatMul", "Attention"] + (["EmbedLayerNormalization", "Gather"] if embeddings else [])
    quantize_dynamic(
        str(src),
        str(dest),
        weight_type=QuantType.QInt8,
        per_channel=True,
        op_types_to_quantize=ops,
        # The fused nodes are in ONNX Runtime's own domain, where shape inference finds no type.
        extra_options={"DefaultTensorType": 1},  # onnx.TensorProto.FLOAT
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: python -m retrieval.encode.export MODEL_DIR OUT_DIR", file=sys.stderr)
        return 2
    # The quantizer advises pre-processing on every call; it does not apply to this graph.
    logging.basicConfig(level=logging.ERROR)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    export(Path(args[0]), Path(args[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
