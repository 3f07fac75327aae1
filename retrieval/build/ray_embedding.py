"""Embedding a build on a Ray cluster: Ray Data's `map_batches` over a pool of actors, each
holding the encoder (ONNX by default), loaded once per actor and reused for every batch.

    with ray_embedder("all-MiniLM-L6-v2", "onnx-int8", dimension=384) as embed:
        engine.reindex(embedder=embed)     # the version is written here, as by a local build

Only `citebot index --ray` imports this module, and it imports Ray only when called: Ray is an
optional extra (`pip install 'citebot[ray]'`), and `retrieval` works without it.

Each actor uses `cpus_per_worker` cores and as many ONNX threads, so a pool of N workers is N
actors side by side; Ray places them on the cluster's machines. Every machine needs citebot
installed and the model (its ONNX export is made once per machine, in ~/.cache/citebot).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from retrieval.build.embedding import EMBED_BATCH, Embedder
from retrieval.encode.encoder import Encoder
from retrieval.encode.load import Backend, load_encoder
from retrieval.errors import CitebotError
from retrieval.types import Vectors

log = logging.getLogger(__name__)

NO_RAY = (
    "Embedding on Ray needs Ray Data, an optional extra: install it with "
    "`pip install 'citebot[ray]'` (ray[data] 2.60), or index without --ray."
)


class EncoderActor:
    """One actor of the pool: the encoder, loaded once, embedding one batch per call."""

    def __init__(self, model: str, backend: Backend, threads: int) -> None:
        self.encoder: Encoder = load_encoder(model, backend=backend, threads=threads)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = self.encoder.encode_documents([str(text) for text in batch["text"]])
        return {"row": batch["row"], "vector": vectors}


def _ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError:
        raise CitebotError(NO_RAY) from None
    return ray


def _embed(
    ray: Any,
    texts: list[str],
    progress: Callable[[int], None],
    *,
    model: str,
    backend: Backend,
    dimension: int,
    workers: int,
    cpus_per_worker: int,
    batch_size: int,
) -> Vectors:
    out = np.zeros((len(texts), dimension), dtype=np.float32)
    if not texts:
        return out
    # One block per batch, so that every actor of the pool has blocks to take.
    blocks = -(-len(texts) // batch_size)
    dataset = ray.data.from_items(
        [{"row": row, "text": text} for row, text in enumerate(texts)],
        override_num_blocks=blocks,
    ).map_batches(
        EncoderActor,
        fn_constructor_kwargs={"model": model, "backend": backend, "threads": cpus_per_worker},
        batch_size=batch_size,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=min(workers, blocks)),
        num_cpus=cpus_per_worker,
    )
    seen = np.zeros(len(texts), dtype=bool)
    # Batches come back as the actors finish them, in any order: each row says where it goes.
    for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
        rows = np.asarray(batch["row"], dtype=np.int64)
        out[rows] = np.asarray(batch["vector"], dtype=np.float32)
        seen[rows] = True
        progress(len(rows))
    if not seen.all():
        raise CitebotError(
            f"The Ray cluster returned vectors for {int(seen.sum())} of {len(texts)} texts; "
            "nothing was written. Run the index again."
        )
    return out


@contextlib.contextmanager
def ray_embedder(
    model: str,
    backend: Backend,
    *,
    dimension: int,
    address: str | None = None,
    workers: int | None = None,
    cpus_per_worker: int = 1,
    batch_size: int = EMBED_BATCH,
) -> Iterator[Embedder]:
    """An embedder for `build_index` that runs on Ray: the cluster at `address` (`auto`: the
    one this machine belongs to), else Ray already started in this process, else a new local
    one, shut down on exit. `workers`: actors in the pool (default: the cluster's CPUs divided
    by `cpus_per_worker`)."""
    ray = _ray()
    started = not ray.is_initialized()
    if started:
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        except ConnectionError as exc:
            raise CitebotError(
                f"Cannot reach the Ray cluster at {address}: {exc}. Start one with "
                "`ray start --head` and pass its address, or leave out the address to start "
                "Ray on this machine."
            ) from None
    try:
        ray.data.DataContext.get_current().enable_progress_bars = False  # the CLI shows its own
        cpus = int(ray.cluster_resources().get("CPU", 1))
        pool = workers or max(1, cpus // cpus_per_worker)
        if pool * cpus_per_worker > cpus:
            raise CitebotError(
                f"{pool} workers of {cpus_per_worker} CPU each need {pool * cpus_per_worker} "
                f"CPUs; the Ray cluster has {cpus}. Ask for at most {cpus // cpus_per_worker}."
            )
        log.info("Embedding on Ray: %d workers of %d CPU each", pool, cpus_per_worker)

        def embed(texts: list[str], progress: Callable[[int], None]) -> Vectors:
            return _embed(
                ray,
                texts,
                progress,
                model=model,
                backend=backend,
                dimension=dimension,
                workers=pool,
                cpus_per_worker=cpus_per_worker,
                batch_size=batch_size,
            )

        yield embed
    finally:
        if started:
            ray.shutdown()
