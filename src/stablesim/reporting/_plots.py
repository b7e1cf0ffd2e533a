"""Matplotlib figures of runs and studies, written as PNG files."""

from __future__ import annotations

import pathlib
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..evaluation import GradientRow, Metrics  # noqa: E402
from ._curves import band, training_curve  # noqa: E402


def _save(fig, path: pathlib.Path) -> pathlib.Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def pyplot():
    """matplotlib.pyplot with the file-only Agg backend (selected once, here)."""
    return plt


BASELINE_LABEL = "solver alone"
BASELINE_STYLE = {"color": "black", "linestyle": "--"}


def plot_metric_curves(
    panels: Mapping[str, Mapping[str, tuple]],
    path: pathlib.Path,
    *,
    ylabel: str,
    log: bool = False,
) -> pathlib.Path:
    """One panel per key of `panels`; in each, one line (and seed band) per label.

    **Arguments:**

    - `panels`: `{panel title: {line label: (steps, mean, low, high)}}`; the
        label "solver alone" is drawn as a black dashed baseline.
    - `path`: the PNG file.
    - `ylabel`: the y-axis label.
    - `log`: logarithmic y axis.

    **Returns:**

    The path written.
    """
    n = max(len(panels), 1)
    cols = min(n, 2)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.6 * rows), squeeze=False)
    for ax, (title, lines) in zip(axes.flat, panels.items()):
        for label, (steps, mean, low, high) in lines.items():
            style = BASELINE_STYLE if label == BASELINE_LABEL else {}
            (line,) = ax.plot(steps, mean, label=label, **style)
            if not np.allclose(low, high):
                ax.fill_between(steps, low, high, color=line.get_color(), alpha=0.2)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("rollout step")
        ax.set_ylabel(ylabel)
        if log:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    return _save(fig, path)


def plot_rollouts(panels: Sequence[tuple[str, np.ndarray]], path: pathlib.Path, *,
                  channel: int = 0, channel_name: str | None = None) -> pathlib.Path:
    """Space-time images (1D states, or vectors: component against step) or snapshots
    (2D states) side by side, one channel.

    **Arguments:**

    - `panels`: `(title, rollout (T, C, *N) or (T, n))` pairs; the first is usually the
        reference.
    - `path`: the PNG file.
    - `channel`: which channel to show; `channel_name` names it in the titles.

    **Returns:**

    The path written.
    """
    vectors = np.ndim(panels[0][1]) == 2  # (T, n): the components as a 1D state
    panels = [(title if channel_name is None else f"{title}: {channel_name}",
               np.asarray(arr)[:, None] if vectors else np.asarray(arr)[:, channel:channel + 1])
              for title, arr in panels]
    first = panels[0][1]
    finite = first[np.isfinite(first)]  # colour range from the first panel (the reference)
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (-1.0, 1.0)
    if low < 0 < high or low == high:  # a signed field: a diverging map centred on 0
        cmap, vmin, vmax = "RdBu_r", -max(abs(low), abs(high), 1e-30), max(abs(low), abs(high),
                                                                              1e-30)
    else:  # an offset field (a pressure of 1e5, a density): its own range
        cmap, vmin, vmax = "viridis", low, high
    if first.ndim == 3:  # (T, C, N): space-time images
        cols = min(len(panels), 4)
        rows = -(-len(panels) // cols)
        fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.0 * rows), squeeze=False)
        for ax, (title, arr) in zip(axes.flat, panels):
            ax.imshow(np.asarray(arr)[:, 0].T, aspect="auto", origin="lower", cmap=cmap,
                      vmin=vmin, vmax=vmax, interpolation="nearest")
            ax.set_title(title, fontsize=9)
            ax.set_xlabel("step")
            ax.set_ylabel("component" if vectors else "x")
        for ax in list(axes.flat)[len(panels):]:
            ax.axis("off")
    else:  # (T, C, Nx, Ny): snapshots at a few times
        t = first.shape[0]
        times = sorted({0, t // 3, 2 * t // 3, t - 1})
        fig, axes = plt.subplots(len(panels), len(times), figsize=(2.4 * len(times), 2.4 * len(panels)),
                                 squeeze=False)
        for i, (title, arr) in enumerate(panels):
            for j, k in enumerate(times):
                ax = axes[i, j]
                ax.imshow(np.asarray(arr)[k, 0], cmap=cmap, vmin=vmin, vmax=vmax)
                ax.set_xticks([])
                ax.set_yticks([])
                ax.set_title(f"{title}, step {k + 1}", fontsize=8)
    return _save(fig, path)


def plot_training(curves: Mapping[str, tuple[np.ndarray, np.ndarray]], path: pathlib.Path) -> pathlib.Path:
    """Training loss against update, one line per label (log scale)."""
    fig, ax = plt.subplots(figsize=(6.0, 3.8))
    for label, (steps, loss) in curves.items():
        if len(steps):
            ax.plot(steps, loss, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("update")
    ax.set_ylabel("training loss (mean over seeds)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_gradient_alignment(curves: Mapping[str, Sequence[GradientRow]], path: pathlib.Path
                            ) -> pathlib.Path:
    """WIG/NOG gradient norm ratio and cosine against the unroll length m."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10.0, 3.6))
    for label, rows in curves.items():
        m = [r.m for r in rows]
        left.plot(m, [r.ratio for r in rows], marker="o", label=label)
        right.plot(m, [r.cosine for r in rows], marker="o", label=label)
    left.set_yscale("log")
    left.set_ylabel("|g_WIG| / |g_NOG|")
    right.set_ylabel("cosine(g_WIG, g_NOG)")
    right.set_ylim(-1.05, 1.05)
    for ax in (left, right):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("unroll m")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return _save(fig, path)


def plot_against_unroll(errors: Mapping[str, Mapping[int, float]],
                        alignment: Mapping[str, Mapping[int, tuple[float, float]]],
                        path: pathlib.Path) -> pathlib.Path:
    """Error, WIG/NOG gradient norm ratio and cosine against the unroll m, side by side.

    **Arguments:**

    - `errors`: `{series label: {m: error}}` (e.g. one series per setup,
        modality and test set).
    - `alignment`: `{series label: {m: (ratio, cosine)}}` of the models trained with m.
    - `path`: the PNG to write.

    **Returns:**

    `path`.
    """
    fig, (err_ax, ratio_ax, cos_ax) = plt.subplots(1, 3, figsize=(14.0, 3.8))
    for label, by_m in errors.items():
        ms = sorted(by_m)
        err_ax.plot(ms, [by_m[m] for m in ms], marker="o", label=label)
    for label, pairs in alignment.items():
        ms = sorted(pairs)
        ratio_ax.plot(ms, [pairs[m][0] for m in ms], marker="o", label=label)
        cos_ax.plot(ms, [pairs[m][1] for m in ms], marker="o", label=label)
    err_ax.set_yscale("log")
    err_ax.set_ylabel("relative error (mean over seeds)")
    ratio_ax.set_yscale("log")
    ratio_ax.set_ylabel("|g_WIG| / |g_NOG|")
    cos_ax.set_ylabel("cosine(g_WIG, g_NOG)")
    cos_ax.set_ylim(-1.05, 1.05)
    for ax in (err_ax, ratio_ax, cos_ax):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("unroll m")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    return _save(fig, path)


MAX_CHANNEL_PLOTS = 8
"""Rollout figures per test set: one per channel, for at most this many channels."""


def plot_run(metrics: Metrics, history: list[dict], arrays: Mapping[str, np.ndarray],
             out: pathlib.Path) -> list[pathlib.Path]:
    """The plots of one evaluated run, into `out`, from its results (no file is read).

    **Arguments:**

    - `metrics`: the run's metrics (`stablesim.runs.evaluate_run`'s result):
        error and correlation curves per seed, the solver alone as a dashed
        baseline.
    - `history`: the training log rows (loss per update).
    - `arrays`: the example rollouts by name (`<set>_prediction`,
        `<set>_reference`, `<set>_solver_prediction`), as `Run.examples` holds them.
    - `out`: the folder (the run's `plots/`).

    **Returns:**

    The paths written.
    """
    examples: dict = {}
    for key in arrays:
        if key.endswith("_prediction"):
            name = key.removesuffix("_prediction")
            examples[name] = (arrays[key], arrays.get(f"{name}_reference"))
    written = []
    for metric, name, log in (("rel_error", "error.png", True), ("correlation", "correlation.png", False)):
        panels = {}
        for test_set in metrics.summary:
            curves = metrics.curves(metric, test_set)
            panels[test_set] = {f"seed {s}": band({s: c}) for s, c in curves.items()}
            for model in ("solver_alone", "persistence"):  # the baseline, if any
                alone = metrics.curves(metric, test_set, model=model)
                if alone:
                    panels[test_set][model.replace("_", " ")] = band(alone)
        written.append(plot_metric_curves(panels, out / name, ylabel=metric, log=log))
    for test_set, (pred, ref) in examples.items():
        if ref is None:
            continue
        shown = [("reference", ref), (f"prediction (seed {metrics.seeds[0]})", pred)]
        if f"{test_set}_solver" in examples:
            shown.append(("solver alone", examples[f"{test_set}_solver"][0]))
        channels = metrics.channels or ["c0"]
        if len(channels) == 1:
            written.append(plot_rollouts(shown, out / f"rollout_{test_set}.png"))
            continue
        for c, name in enumerate(channels[:MAX_CHANNEL_PLOTS]):  # one figure per named channel
            written.append(plot_rollouts(shown, out / f"rollout_{test_set}_{name}.png",
                                         channel=c, channel_name=name))
    written.append(plot_training({"loss": training_curve(history)}, out / "training.png"))
    if metrics.gradient_alignment:
        written.append(plot_gradient_alignment({metrics.run: metrics.gradient_alignment},
                                               out / "gradient_alignment.png"))
    return written
