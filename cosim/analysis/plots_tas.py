"""Figures of FastCar replay decisions and their cost in quality, from ReplayTraces.

What a reader wants to see of a decoding run: how the Temporal Attention Score is spread
in each layer (and whether it separates positions that stayed the same from positions
that changed, which is what makes replay safe), where in the model and where in the video
replay happens (layer x frame, and a rows x cols map per frame next to the frame itself),
how much quality a higher replay ratio costs, and the decoded frames side by side.

numpy + matplotlib only (no torch), so traces written by a decoding run can be plotted
on a simulation worker too. Like `cosim.analysis.plots`, every function returns a matplotlib
`Figure` built without pyplot; `cosim.analysis.plots.save_figure` writes one as PNG.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib import colormaps
from matplotlib.artist import Artist
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from cosim.analysis.plots import new_figure
from cosim.artifacts.replay_trace import ReplayTrace

REPLAY_CMAP = "viridis"
GROUP_COLOURS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52")


def _replay_cmap():
    # grey: positions the run never decoded (prompt frame, last token)
    return colormaps[REPLAY_CMAP].with_extremes(bad="#d0d0d0")


# -- aggregations (numpy) ------------------------------------------------------------------


def layer_frame_replay(trace: ReplayTrace) -> np.ndarray:
    """Replay ratio per layer and frame, float [L, frames]; NaN for frames with no decode
    step (frame 0 is the prompt)."""
    frames = int(trace.meta["frames"])
    ratio = np.full((trace.num_layers, frames), np.nan)
    per_step = trace.replay.mean(axis=2)  # [S, L], mean over batch rows
    for f in np.unique(trace.frame):
        ratio[:, f] = per_step[trace.frame == f].mean(axis=0)
    return ratio


def spatial_replay(trace: ReplayTrace, layer: int | None = None) -> np.ndarray:
    """Replay ratio per frame and spatial position, float [frames, rows, cols].

    Averaged over batch rows and over all layers (or only `layer`); NaN where the run
    had no decode step (the prompt frame, and the last position of the last frame,
    which is generated but never fed back).
    """
    meta = trace.meta
    grid = np.full((int(meta["frames"]), int(meta["frame_rows"]), int(meta["frame_cols"])), np.nan)
    decided = trace.replay if layer is None else trace.replay[:, layer : layer + 1]
    grid[trace.frame, trace.row, trace.col] = decided.mean(axis=(1, 2))
    return grid


def unchanged_positions(codes: np.ndarray, trace: ReplayTrace) -> np.ndarray:
    """bool [S]: the code fed at each decode step equals the code at the same spatial
    position one frame earlier, in a video's codes [frames, rows, cols].

    These are the positions where replaying the previous frame's MLP output is exact in
    spirit; TAS should be high there and low where the content changed.
    """
    codes = np.asarray(codes)
    same = codes[1:] == codes[:-1]
    if codes.ndim == 4:  # [frames, rows, cols, D]: a position is unchanged if all D codes are
        same = same.all(axis=-1)
    return same[trace.frame - 1, trace.row, trace.col]


# -- figures --------------------------------------------------------------------------------


def tas_distribution_figure(
    tas: np.ndarray,
    *,
    groups: Mapping[str, np.ndarray] | None = None,
    thresholds: Sequence[float] | None = None,
    title: str | None = None,
) -> Figure:
    """Violins of TAS per layer from tas [S, L, R] (all batch rows pooled).

    groups: name -> bool [S] splitting the steps (e.g. unchanged / changed positions),
    drawn as side-by-side violins with their share of steps in the legend. thresholds:
    one per layer, drawn as red bars (replay happens strictly above them); infinite
    thresholds are left out.
    """
    tas = np.asarray(tas, dtype=np.float64)
    steps, layers, _ = tas.shape
    groups = dict(groups) if groups else {"all positions": np.ones(steps, dtype=bool)}
    figure = new_figure(max(5.5, 1.1 * layers + 2.5), 3.8)
    axes = figure.add_subplot()
    width = 0.8 / len(groups)
    handles: list[Artist] = []
    for g, (name, mask) in enumerate(groups.items()):
        mask = np.asarray(mask, dtype=bool)
        colour = GROUP_COLOURS[g % len(GROUP_COLOURS)]
        offset = (g - (len(groups) - 1) / 2) * width
        data, positions = [], []
        for layer in range(layers):
            values = tas[mask, layer, :].ravel()
            values = values[np.isfinite(values)]
            if len(values) > 1:
                data.append(values)
                positions.append(layer + offset)
        if data:
            parts = axes.violinplot(data, positions=positions, widths=width * 0.95, showextrema=False, showmedians=True)
            # matplotlib's stub types "bodies" as one Collection; it is a list of PolyCollection
            for body in parts["bodies"]:  # type: ignore[attr-defined]
                body.set_facecolor(colour)
                body.set_edgecolor(colour)
                body.set_alpha(0.55)
            parts["cmedians"].set_color(colour)
        share = mask.mean() if steps else 0.0
        handles.append(Patch(facecolor=colour, alpha=0.55, label=f"{name} ({100 * share:.0f} % of steps)"))
    if thresholds is not None:
        for layer, value in enumerate(thresholds):
            if np.isfinite(value):
                axes.hlines(value, layer - 0.45, layer + 0.45, colors="#c44e52", linewidth=2)
        handles.append(Line2D([], [], color="#c44e52", linewidth=2, label="threshold (replay above)"))
    axes.set_xticks(range(layers), [str(layer) for layer in range(layers)])
    axes.set_xlim(-0.6, layers - 0.4)
    axes.set_xlabel("layer")
    axes.set_ylabel("TAS (scaled logit q·k / sqrt(head dim), head mean)")
    axes.grid(axis="y", alpha=0.3)
    axes.legend(handles=handles, loc="best", fontsize="small")
    axes.set_title(title or "Temporal Attention Score per layer")
    return figure


def replay_layer_frame_figure(trace: ReplayTrace, title: str | None = None) -> Figure:
    """Heat map of the replay ratio (%) per layer (rows) and frame (columns), with the
    numbers written in the cells and the per-layer mean in the tick labels."""
    ratio = 100 * layer_frame_replay(trace)
    layers, frames = ratio.shape
    figure = new_figure(max(5.0, 0.75 * frames + 2.8), max(2.6, 0.45 * layers + 1.6))
    axes = figure.add_subplot()
    image = axes.imshow(
        ratio, cmap=_replay_cmap(), vmin=0, vmax=100, aspect="auto", extent=(0.5, frames + 0.5, layers - 0.5, -0.5)
    )
    if layers * frames <= 400:
        for layer in range(layers):
            for f in range(frames):
                if np.isfinite(ratio[layer, f]):
                    axes.text(
                        f + 1,
                        layer,
                        f"{ratio[layer, f]:.0f}",
                        ha="center",
                        va="center",
                        fontsize="small",
                        color="white" if ratio[layer, f] < 60 else "black",
                    )
    layer_mean = 100 * trace.layer_replay_ratio()
    axes.set_yticks(range(layers), [f"{layer} ({layer_mean[layer]:.0f} %)" for layer in range(layers)])
    axes.set_xticks(range(1, frames + 1))
    axes.set_xlabel("frame (frame 1 is the prompt: never replays)")
    axes.set_ylabel("layer (mean replay)")
    figure.colorbar(image, ax=axes, label="replay ratio (%)")
    axes.set_title(title or f"Replay per layer and frame (overall {100 * trace.replay_ratio():.1f} %)")
    return figure


def replay_spatial_figure(
    trace: ReplayTrace, video: np.ndarray | None = None, *, layer: int | None = None, title: str | None = None
) -> Figure:
    """One rows x cols map of the replay ratio per frame; with `video` (uint8
    [frames, H, W, 3], e.g. the decoded frames) the frames are drawn above their maps so
    one can see that replay stops where the content moves."""
    grid = 100 * spatial_replay(trace, layer)
    frames = grid.shape[0]
    rows = 2 if video is not None else 1
    figure = new_figure(1.45 * frames + 1.2, 1.55 * rows + 0.7)
    cells = figure.subplots(rows, frames, squeeze=False)
    cmap = _replay_cmap()
    image: AxesImage | None = None
    for f in range(frames):
        if video is not None:
            top = cells[0, f]
            top.imshow(video[f], interpolation="nearest")
            top.set_xticks([])
            top.set_yticks([])
            if f == 0:
                top.set_ylabel("frames", fontsize="small")
        cells[0, f].set_title(f"frame {f + 1}" + (" (prompt)" if np.isnan(grid[f]).all() else ""), fontsize="small")
        axes = cells[-1, f]
        image = axes.imshow(grid[f], cmap=cmap, vmin=0, vmax=100, interpolation="nearest")
        axes.set_xticks([])
        axes.set_yticks([])
        if f == 0:
            axes.set_ylabel("replay", fontsize="small")
    assert image is not None, "a replay trace has at least one frame"
    which = "mean over layers" if layer is None else f"layer {layer}"
    figure.colorbar(image, ax=cells[-1, :].tolist(), label="replay (%)", shrink=0.9)
    figure.suptitle(title or f"Where replay happens: per token position ({which}; grey = not decoded)")
    return figure


@dataclass(frozen=True)
class TradeoffPoint:
    """Quality of one FastCar setting next to the dense run (pooled over the same videos)."""

    label: str
    replay_ratio: float
    token_agreement: float  # with the dense run's generated tokens, 0..1
    psnr_vs_dense_db: float  # +inf when identical to the dense run
    psnr_vs_truth_db: float


def quality_tradeoff_figure(
    points: Sequence[TradeoffPoint], dense_psnr_vs_truth_db: float | None = None, title: str | None = None
) -> Figure:
    """Token agreement (left) and PSNR (right) against the achieved replay ratio.

    Right panel: PSNR against the dense run (how much replay changed the video; a run
    identical to dense has infinite PSNR and is drawn as a marker at the top edge) and
    against the ground truth (is the video still good), with the dense run's own PSNR to
    the ground truth as a dashed line.
    """
    points = sorted(points, key=lambda p: p.replay_ratio)
    x = np.array([100 * p.replay_ratio for p in points])
    figure = new_figure(10.0, 3.8)
    left, right = figure.subplots(1, 2)
    left.plot(x, [100 * p.token_agreement for p in points], "o-", color="#4c72b0")
    for xi, p in zip(x, points, strict=True):
        left.annotate(
            p.label, (xi, 100 * p.token_agreement), textcoords="offset points", xytext=(4, 4), fontsize="x-small"
        )
    left.set_xlabel("replay ratio (% of layer-steps)")
    left.set_ylabel("token agreement with dense (%)")
    left.set_title("Tokens unchanged by replay")
    left.grid(alpha=0.3)

    vs_dense = np.array([p.psnr_vs_dense_db for p in points])
    finite = np.isfinite(vs_dense)
    truth = np.array([p.psnr_vs_truth_db for p in points])
    right.plot(x[finite], vs_dense[finite], "o-", color="#dd8452", label="vs dense run")
    right.plot(x, truth, "s-", color="#55a868", label="vs ground truth")
    if dense_psnr_vs_truth_db is not None:
        right.axhline(
            dense_psnr_vs_truth_db, color="#55a868", linestyle="--", linewidth=1, label="dense vs ground truth"
        )
    if (~finite).any():
        top = max(np.nanmax(vs_dense[finite]) if finite.any() else 0.0, np.nanmax(truth)) + 3
        right.plot(
            x[~finite],
            np.full((~finite).sum(), top),
            "^",
            color="#dd8452",
            clip_on=False,
            label="identical to dense (PSNR = inf)",
        )
    right.set_xlabel("replay ratio (% of layer-steps)")
    right.set_ylabel("PSNR (dB)")
    right.set_title("Decoded-frame quality")
    right.grid(alpha=0.3)
    right.legend(fontsize="small", loc="best")
    for axes in (left, right):
        axes.set_xlim(-3, max(100.0, x.max() + 3) if len(x) else 100.0)
    if title:
        figure.suptitle(title)
    return figure


def frames_figure(
    videos: Mapping[str, np.ndarray], frames: Sequence[int] | None = None, title: str | None = None
) -> Figure:
    """Rows of frames (uint8 [F, H, W, 3] per named video), one column per frame index
    (0-based indices in `frames`, labelled 1-based), drawn pixel-exact."""
    names = list(videos)
    count = len(next(iter(videos.values())))
    frames = list(range(count)) if frames is None else list(frames)
    figure = new_figure(1.35 * len(frames) + 1.3, 1.4 * len(names) + 0.5)
    cells = figure.subplots(len(names), len(frames), squeeze=False)
    for r, name in enumerate(names):
        for c, f in enumerate(frames):
            axes = cells[r, c]
            axes.imshow(videos[name][f], interpolation="nearest")
            axes.set_xticks([])
            axes.set_yticks([])
            if r == 0:
                axes.set_title(f"frame {f + 1}", fontsize="small")
            if c == 0:
                axes.set_ylabel(name, fontsize="small")
    if title:
        figure.suptitle(title)
    return figure


def drift_figure(
    per_frame: Mapping[str, Sequence[float]], ylabel: str, *, first_frame: int = 1, title: str | None = None
) -> Figure:
    """A per-frame quality figure (e.g. token agreement with dense per frame) for several
    settings, values starting at frame `first_frame` (1-based): errors of AR decoding
    accumulate, so later frames show an approximation."""
    figure = new_figure(7.0, 3.6)
    axes = figure.add_subplot()
    for i, (name, values) in enumerate(per_frame.items()):
        series = np.asarray(values, dtype=np.float64)
        # viridis up to 0.85: its last yellows are hard to see on white
        colour = colormaps["viridis"](0.85 * i / max(len(per_frame) - 1, 1))
        axes.plot(np.arange(first_frame, first_frame + len(series)), series, "o-", color=colour, label=name)
    axes.set_xlabel("frame")
    axes.set_ylabel(ylabel)
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    axes.set_title(title or "Drift over frames")
    return figure
