"""ReplayTrace: what FastCar decided, per decode step, layer and batch row.

A decoding run (``models.decoding.decode``) or the synthetic generator writes one; the simulator
reads it to decide which MLPs run. The file is a NumPy ``.npz`` archive (no pickle)
holding the arrays below and a JSON ``meta`` string, so it loads without torch.

Arrays (S decode steps, L layers, R batch rows):

A step may decode several videos in lockstep and several tokens of a frame at once
(``meta.videos`` N and ``meta.tokens_per_step`` K, both 1 when absent): then R = N x K x C
(C rows per sequence, 2 with CFG) and row r is video ``r // (K*C)``, token ``r // C % K`` of the
step and CFG row ``r % C``; ``frame``, ``row``, ``col`` give the step's first token, ``kv_len``
counts the entries after all K tokens are appended (`cosim.artifacts.lockstep`).

=============  ==============  ==========================================================
name           dtype, shape    meaning
=============  ==============  ==========================================================
tas            float32 S,L,R   Temporal Attention Score (NaN where undefined: frame 1)
replay         bool    S,L,R   True when the layer replayed the cached MLP output
frame          int32   S       frame index (0-based) of the token generated at the step
row, col       int32   S       spatial position of that token inside its frame
kv_len         int32   S       KV-cache entries after appending this step's token
kv_attended    int32   S,L     KV entries the attention actually read (sparse policies)
kv_kept        int32   S,L     KV entries resident after the step (a KV budget bounds it;
                               optional in a file: kv_len when absent)
=============  ==============  ==========================================================
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cosim.common.atomic import atomic_open
from cosim.common.errors import UserError

SCHEMA_VERSION = 1
SOURCES = ("decoded", "synthetic")

_ARRAY_SPECS: dict[str, tuple[type, str]] = {
    "tas": (np.float32, "SLR"),
    "replay": (np.bool_, "SLR"),
    "frame": (np.int32, "S"),
    "row": (np.int32, "S"),
    "col": (np.int32, "S"),
    "kv_len": (np.int32, "S"),
    "kv_attended": (np.int32, "SL"),
}
_OPTIONAL_ARRAYS = {"kv_kept": (np.int32, "SL")}  # older files lack them: see `_default_kv_kept`
_NOT_GIVEN = np.empty((0, 0), dtype=np.int32)

_REQUIRED_META = {
    "model": str,
    "num_layers": int,
    "batch_rows": int,
    "tokens_per_frame": int,
    "frame_rows": int,
    "frame_cols": int,
    "frames": int,
    "prompt_len": int,
    "source": str,
}


@dataclass
class ReplayTrace:
    """Per-step, per-layer, per-row replay decisions of one video.

    ``meta`` holds at least the keys of ``_REQUIRED_META`` and, by convention,
    ``thresholds`` (per-layer list or None), ``row_policy``, ``tas_form``,
    ``attention`` (a dict with ``policy`` and its knobs), ``seed`` and ``mapped_from``.
    """

    tas: np.ndarray
    replay: np.ndarray
    frame: np.ndarray
    row: np.ndarray
    col: np.ndarray
    kv_len: np.ndarray
    kv_attended: np.ndarray
    kv_kept: np.ndarray = field(default_factory=lambda: _NOT_GIVEN)  # not given: every entry stays (kv_len)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kv_kept is _NOT_GIVEN:
            self.kv_kept = _default_kv_kept(self.kv_len, np.shape(self.kv_attended))
        for name, (dtype, _) in {**_ARRAY_SPECS, **_OPTIONAL_ARRAYS}.items():
            setattr(self, name, np.ascontiguousarray(getattr(self, name), dtype=dtype))
        _check(self, source="<in memory>")

    # -- shape -------------------------------------------------------------------------
    @property
    def num_steps(self) -> int:
        return int(self.replay.shape[0])

    @property
    def num_layers(self) -> int:
        return int(self.replay.shape[1])

    @property
    def batch_rows(self) -> int:
        return int(self.replay.shape[2])

    @property
    def videos(self) -> int:
        """Videos decoded in lockstep (each with its own KV cache and decisions)."""
        return int(self.meta.get("videos", 1))

    @property
    def tokens_per_step(self) -> int:
        """Tokens of a frame decoded in one step (they share their sequence's KV cache)."""
        return int(self.meta.get("tokens_per_step", 1))

    @property
    def sequences(self) -> int:
        """Rows with a KV cache of their own: videos x CFG rows (``batch_rows / tokens_per_step``)."""
        return self.batch_rows // self.tokens_per_step

    # -- summaries ---------------------------------------------------------------------
    def replay_ratio(self) -> float:
        """Fraction of (step, layer, row) MLP evaluations that replayed."""
        return float(self.replay.mean()) if self.replay.size else 0.0

    def layer_replay_ratio(self) -> np.ndarray:
        """Replay ratio per layer, averaged over steps and rows, shape (L,)."""
        return self.replay.mean(axis=(0, 2)) if self.num_steps else np.zeros(self.num_layers)

    @property
    def kv_resident_max(self) -> int:
        """The most KV entries resident at once (per row, layer and kv head): what memory must hold."""
        return int(self.kv_kept.max()) if self.kv_kept.size else 0

    @property
    def runs_fastcar(self) -> bool:
        """Whether the decode ran FastCar: TAS at every step and each computed MLP output kept in the replay ring.

        False for a dense baseline (`dense_baseline`) and for a decoded run without thresholds (FastCar
        off, e.g. the sparse-attention baseline); synthetic traces stand for FastCar runs.
        """
        if self.meta.get("dense_baseline"):
            return False
        return not (self.meta.get("source") == "decoded" and self.meta.get("thresholds") is None)

    def weights_skippable(self) -> np.ndarray:
        """(S, L) True where every row replayed, so the MLP weights need not be read."""
        return np.all(self.replay, axis=2)

    # -- transformations ---------------------------------------------------------------
    def dense_baseline(self, *, full_attention: bool) -> ReplayTrace:
        """The same video without FastCar: every replay decision false.

        `full_attention` also drops sparse attention (every KV entry attended, as the
        comparison's ``dense`` run); otherwise the attended KV lengths stay as decoded.
        """
        meta, kv_attended, kv_kept = dict(self.meta), self.kv_attended, self.kv_kept
        if full_attention:
            meta.update(thresholds=None, attention={"policy": "dense"}, kv_policy={"policy": "full"})
            kv_attended = kv_kept = np.repeat(self.kv_len[:, None], self.num_layers, axis=1)
        meta["dense_baseline"] = True
        return ReplayTrace(
            tas=self.tas,
            replay=np.zeros_like(self.replay),
            frame=self.frame,
            row=self.row,
            col=self.col,
            kv_len=self.kv_len,
            kv_attended=kv_attended,
            kv_kept=kv_kept,
            meta=meta,
        )

    def map_to_layers(self, num_layers: int) -> ReplayTrace:
        """Map decisions onto a model with `num_layers` layers by relative depth.

        Target layer i takes source layer floor((i + 0.5) * L_src / L_dst), so the first,
        last and middle layers of both models correspond. The metadata records the
        source geometry under ``mapped_from``.
        """
        if num_layers < 1:
            raise UserError(None, "num_layers", "an integer >= 1", num_layers)
        source_layers = self.num_layers
        index = np.floor((np.arange(num_layers) + 0.5) * source_layers / num_layers).astype(int)
        meta = dict(self.meta)
        meta["mapped_from"] = {"model": self.meta["model"], "num_layers": source_layers}
        meta["num_layers"] = num_layers
        thresholds = meta.get("thresholds")
        if isinstance(thresholds, list) and len(thresholds) == source_layers:
            meta["thresholds"] = [thresholds[i] for i in index]
        return ReplayTrace(
            tas=self.tas[:, index, :],
            replay=self.replay[:, index, :],
            frame=self.frame,
            row=self.row,
            col=self.col,
            kv_len=self.kv_len,
            kv_attended=self.kv_attended[:, index],
            kv_kept=self.kv_kept[:, index],
            meta=meta,
        )

    # -- files -------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the trace atomically as ``.npz``; returns the path written."""
        path = Path(path)
        meta = dict(self.meta, schema_version=SCHEMA_VERSION)
        arrays = {name: getattr(self, name) for name in (*_ARRAY_SPECS, *_OPTIONAL_ARRAYS)}
        arrays["meta"] = np.array(json.dumps(meta, sort_keys=True))
        with atomic_open(path, "wb") as handle:
            np.savez_compressed(handle, **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> ReplayTrace:
        """Read and check a trace file; any defect is a `UserError` naming the file."""
        path = Path(path)
        if not path.is_file():
            kind = "a directory" if path.is_dir() else "no such file"
            raise UserError(path, None, "an existing replay-trace file (.npz)", kind, found_is_text=True)
        if not zipfile.is_zipfile(path):  # else numpy takes it for pickled data
            raise UserError(
                path, None, "a replay-trace .npz archive", "an unreadable file (not a zip archive)", found_is_text=True
            )
        try:
            with np.load(path, allow_pickle=False) as archive:
                contents = {name: archive[name] for name in archive.files}
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError) as error:
            raise UserError(
                path, None, "a replay-trace .npz archive", f"an unreadable file ({error})", found_is_text=True
            ) from None
        missing = [name for name in (*_ARRAY_SPECS, "meta") if name not in contents]
        if missing:
            raise UserError(path, missing[0], "a replay-trace array of that name", "nothing", found_is_text=True)
        try:
            meta = json.loads(str(contents.pop("meta")))
        except json.JSONDecodeError as error:
            raise UserError(path, "meta", "a JSON object", f"invalid JSON ({error})", found_is_text=True) from None
        if not isinstance(meta, dict):
            raise UserError(path, "meta", "a JSON object", type(meta).__name__, found_is_text=True)
        version = meta.pop("schema_version", None)
        if version != SCHEMA_VERSION:
            raise UserError(path, "meta.schema_version", f"{SCHEMA_VERSION}", version)
        present = {name: spec for name, spec in {**_ARRAY_SPECS, **_OPTIONAL_ARRAYS}.items() if name in contents}
        for name, (dtype, _) in present.items():
            if contents[name].dtype != dtype:
                raise UserError(
                    path, name, f"dtype {np.dtype(dtype).name}", contents[name].dtype.name, found_is_text=True
                )
        trace = cls.__new__(cls)
        for name in present:
            setattr(trace, name, contents[name])
        if "kv_kept" not in contents:
            trace.kv_kept = _default_kv_kept(trace.kv_len, trace.kv_attended.shape)
        trace.meta = meta
        _check(trace, source=path)
        return trace


def _check_lockstep(trace: ReplayTrace, source: str | Path) -> None:
    """``videos`` and ``tokens_per_step`` (optional) are positive integers that divide the rows and the frame."""
    for key in ("videos", "tokens_per_step"):
        value = trace.meta.get(key, 1)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise UserError(source, f"meta.{key}", "an integer >= 1", value)
    per_step = trace.videos * trace.tokens_per_step
    if trace.batch_rows % per_step:
        raise UserError(
            source, "meta.batch_rows", f"a multiple of videos x tokens_per_step = {per_step}", trace.batch_rows
        )
    if trace.meta["tokens_per_frame"] % trace.tokens_per_step:
        raise UserError(
            source,
            "meta.tokens_per_step",
            f"a divisor of tokens_per_frame = {trace.meta['tokens_per_frame']}",
            trace.tokens_per_step,
        )


def _check(trace: ReplayTrace, source: str | Path) -> None:
    """Shapes, metadata and value ranges must agree; raise `UserError` otherwise."""
    for key, kind in _REQUIRED_META.items():
        if key not in trace.meta:
            raise UserError(source, f"meta.{key}", f"a {kind.__name__}", "nothing", found_is_text=True)
        value = trace.meta[key]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise UserError(source, f"meta.{key}", f"a {kind.__name__}", value)
    if trace.meta["source"] not in SOURCES:
        raise UserError(source, "meta.source", f"one of {', '.join(SOURCES)}", trace.meta["source"])
    if trace.replay.ndim != 3:
        raise UserError(
            source, "replay", "a 3-d array (steps, layers, rows)", f"shape {trace.replay.shape}", found_is_text=True
        )
    steps, layers, rows = trace.replay.shape
    sizes = {"S": steps, "L": layers, "R": rows}
    for name, (_, dims) in {**_ARRAY_SPECS, **_OPTIONAL_ARRAYS}.items():
        expected = tuple(sizes[d] for d in dims)
        found = getattr(trace, name).shape
        if found != expected:
            raise UserError(source, name, f"shape {expected}", f"shape {found}", found_is_text=True)
    if trace.meta["num_layers"] != layers:
        raise UserError(source, "meta.num_layers", f"{layers} (the layers in the arrays)", trace.meta["num_layers"])
    if trace.meta["batch_rows"] != rows:
        raise UserError(source, "meta.batch_rows", f"{rows} (the rows in the arrays)", trace.meta["batch_rows"])
    _check_lockstep(trace, source)
    if steps == 0:
        return
    ranges = {
        "frame": (0, trace.meta["frames"] - 1),
        "row": (0, trace.meta["frame_rows"] - 1),
        "col": (0, trace.meta["frame_cols"] - 1),
        "kv_len": (1, None),
    }
    for name, (low, high) in ranges.items():
        values = getattr(trace, name)
        bad = (values < low) | (values > high if high is not None else False)
        if bad.any():
            where = int(np.argmax(bad))
            bound = f"[{low}, {high}]" if high is not None else f">= {low}"
            raise UserError(source, f"{name}[{where}]", f"a value in {bound}", int(values[where]))
    _check_within_kv_len(source, "kv_attended", trace.kv_attended, trace.kv_len, np.zeros_like(trace.kv_attended))
    _check_within_kv_len(source, "kv_kept", trace.kv_kept, trace.kv_len, trace.kv_attended, low_name="kv_attended")


def _check_within_kv_len(
    source: str | Path,
    name: str,
    values: np.ndarray,
    kv_len: np.ndarray,
    low: np.ndarray,
    low_name: str | None = None,
) -> None:
    """Every values[step, layer] lies in [low[step, layer], kv_len[step]]; the first that does not is named."""
    outside = (values < low) | (values > kv_len[:, None])
    if outside.any():
        step, layer = np.argwhere(outside)[0]
        floor = int(low[step, layer])
        floor_text = f"{low_name}={floor}" if low_name else str(floor)
        raise UserError(
            source,
            f"{name}[{step}, {layer}]",
            f"a value in [{floor_text}, kv_len={int(kv_len[step])}]",
            int(values[step, layer]),
        )


def _default_kv_kept(kv_len: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Resident entries without a KV budget: every entry written so far, in every layer."""
    layers = shape[1] if len(shape) == 2 else 0
    return np.repeat(np.asarray(kv_len, dtype=np.int32).reshape(-1, 1), layers, axis=1)
