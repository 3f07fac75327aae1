"""Turn the trained reader into what serving ships: an int8 ONNX graph and its tokenizer.

    python -m training.reader_export --model build/reader/best

Writes `retrieval/answer/reader_model/{reader-int8.onnx,tokenizer.json}`, and
`tests/data/reader_agreement.jsonl`: held-out training pairs with the float32 torch model's
probability for each, so a test can check the shipped int8 graph against the model it came from.
Prints the ONNX file's SHA-256 (the model card records it) and how far int8 strays from float32.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import random
import shutil
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.answer.reader import (
    INPUTS,
    MAX_TOKENS,
    MODEL_FILE,
    READER_DIR,
    TOKENIZER_FILE,
    OnnxReader,
)
from retrieval.encode.export import OPSET, optimise, quantise
from training.reader_train import encode_pairs

AGREEMENT = Path("tests/data/reader_agreement.jsonl")
AGREEMENT_PAIRS = 200


def export(model_dir: Path, out_dir: Path) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification

    model: Any = AutoModelForSequenceClassification.from_pretrained(
        str(model_dir), attn_implementation="eager", local_files_only=True
    ).eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".export-") as tmp:
        raw, fused, int8 = (Path(tmp) / n for n in ("raw.onnx", "fused.onnx", MODEL_FILE))
        sample = torch.ones((2, 8), dtype=torch.long)
        axes: dict[str, dict[int, str]] = {n: {0: "batch", 1: "tokens"} for n in INPUTS}
        axes["logits"] = {0: "batch"}
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model,
                (sample, sample, torch.zeros_like(sample)),
                str(raw),
                dynamo=False,
                input_names=list(INPUTS),
                output_names=["logits"],
                dynamic_axes=axes,
                opset_version=OPSET,
            )
        optimise(model_dir, raw, fused)
        # The table of token embeddings is 47 MB in float32: int8 keeps the file near 25 MB.
        quantise(fused, int8, embeddings=True)
        os.replace(int8, out_dir / MODEL_FILE)
    shutil.copyfile(model_dir / TOKENIZER_FILE, out_dir / TOKENIZER_FILE)


def torch_probabilities(model_dir: Path, pairs: list[tuple[str, str]]) -> np.ndarray:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model: Any = AutoModelForSequenceClassification.from_pretrained(
        str(model_dir), local_files_only=True
    ).eval()
    tokenizer: Any = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    out = []
    with torch.no_grad():
        for begin in range(0, len(pairs), 64):
            chunk = pairs[begin : begin + 64]
            batch = encode_pairs(tokenizer, chunk, MAX_TOKENS)
            out.append(torch.sigmoid(model(**batch).logits.squeeze(-1)).numpy())
    return np.concatenate(out)


def agreement_pairs(validation: Path, seed: int) -> list[tuple[str, str]]:
    from training.reader_data import Question, pairs_of

    rng = random.Random(seed)
    pairs: list[tuple[str, str]] = []
    for line in validation.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        record["answers"] = frozenset(record["answers"])
        record["plausible"] = frozenset(record["plausible"])
        record["sentences"] = tuple(record["sentences"])
        record["others"] = tuple(record["others"])
        record["spans"] = tuple(tuple(span) for span in record.get("spans", ()))
        pairs.extend((p.question, p.document) for p in pairs_of(Question(**record), rng))
    return rng.sample(pairs, min(AGREEMENT_PAIRS, len(pairs)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=Path("build/reader/best"))
    parser.add_argument("--out", type=Path, default=READER_DIR)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    export(args.model, args.out)

    pairs = agreement_pairs(args.model.parent / "validation.jsonl", args.seed)
    fp32 = torch_probabilities(args.model, pairs)
    reader = OnnxReader(args.out / MODEL_FILE, args.out / TOKENIZER_FILE)
    int8 = np.concatenate([reader.score(q, [d]) for q, d in pairs])
    AGREEMENT.parent.mkdir(parents=True, exist_ok=True)
    with open(AGREEMENT, "w", encoding="utf-8") as handle:
        for (question, document), p in zip(pairs, fp32.tolist(), strict=True):
            record = {"question": question, "document": document, "fp32": round(p, 6)}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    gap = np.abs(int8 - fp32)
    digest = hashlib.sha256((args.out / MODEL_FILE).read_bytes()).hexdigest()
    size = (args.out / MODEL_FILE).stat().st_size
    print(f"{args.out / MODEL_FILE}: {size / 1e6:.1f} MB, sha256 {digest}")
    print(
        f"int8 against float32 on {len(pairs)} held-out pairs: mean |diff| {gap.mean():.4f}, "
        f"p95 {np.percentile(gap, 95):.4f}, max {gap.max():.4f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
