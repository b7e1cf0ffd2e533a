"""The table and figure of `stablesim ode check`."""

from __future__ import annotations

import csv
import pathlib

import numpy as np

from .._atomic import atomic_path
from ._plots import plt


def write_check(out_dir, rows: list[dict], curves: dict) -> list[pathlib.Path]:
    """Write `ode_check.csv` and `ode_check.png` (per-layer gradient of b_0 per method).

    **Arguments:**

    - `out_dir`: the folder.
    - `rows`, `curves`: what `stablesim.ode.run_ode_check` returned.

    **Returns:**

    The paths written.
    """
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fields = ["method", "layout", "gradients", "order", "consistency", "consistency_interior",
              "refinement", "oscillation", "even_odd", "note"]
    with atomic_path(out / "ode_check.csv") as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, restval="")
        writer.writeheader()
        writer.writerows(rows)
    methods = [m for m in curves if "times" in curves[m]]
    cols = 3
    rows_n = (len(methods) + cols - 1) // cols
    fig, axes = plt.subplots(rows_n, cols, figsize=(4.2 * cols, 3.0 * rows_n), squeeze=False)
    for ax, method in zip(axes.flat, methods):
        c = curves[method]
        ax.plot(c["times"], c["continuous"], "k-", lw=1.5, label="continuous G(t)")
        ax.plot(c["times"], c["autodiff"], ".-", color="tab:red", lw=0.7, label="autodiff")
        if "corrected" in c:
            ax.plot(c["times"], c["corrected"], ".-", color="tab:blue", lw=0.7,
                    label="corrected")
        ax.set_title(method)
        ax.set_xlabel("layer time")
    for ax in list(axes.flat)[len(methods):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "ode_check.png", dpi=110)
    plt.close(fig)
    return [out / "ode_check.csv", out / "ode_check.png"]


def write_transfer(out_dir, rows: list[dict], notes: list[str], recommendation: str,
                   tolerance: float = 0.10) -> list[pathlib.Path]:
    """Write `ode_transfer.csv`, `ode_transfer.md` and `ode_transfer.png` (transfer ratios
    and own loss against updates, one line per variant).

    **Arguments:**

    - `out_dir`: the folder.
    - `rows`: what `stablesim.ode.run_ode_transfer` returned.
    - `notes`, `recommendation`: what `stablesim.ode.transfer_verdicts` returned.
    - `tolerance`: the band drawn around a ratio of 1.

    **Returns:**

    The paths written.
    """
    from ..ode import ratios_by_variant, transfer_table

    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fields = ["variant", "updates", "own", "finer", "other", "adaptive", "step_specific",
              "discretisation_limited", "plateaued"]
    with atomic_path(out / "ode_transfer.csv") as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    kept = "Every variant kept its transfer ratios within the tolerance."
    text = "\n\n".join(["# Neural ODE transfer", recommendation,
                        "\n".join(f"- {n}" for n in notes) or kept,
                        transfer_table(rows), ""])
    with atomic_path(out / "ode_transfer.md") as tmp:
        tmp.write_text(text)
    fig, axes = plt.subplots(1, 5, figsize=(21, 3.6))
    for name, values in ratios_by_variant(rows).items():
        for ax, col in zip(axes, (1, 2, 3, 4)):
            line, = ax.plot(values[:, 0], values[:, col], ".-", label=name)
        flat = next((r for r in rows if r["variant"] == name and r.get("plateaued")), None)
        if flat is not None:  # where its loss plateaued
            axes[0].plot(flat["updates"], flat["own"], "x", ms=9, color=line.get_color())
        ratios = values[:, 2:5]
        farthest = ratios[np.arange(len(ratios)),
                          np.nanargmax(np.abs(np.nan_to_num(ratios, nan=1.0) - 1), axis=1)]
        axes[4].plot(values[:, 0], np.clip(farthest, 0.5, 2.0), ".-", color=line.get_color())
    for ax, title in zip(axes, ("own training loss (x: plateaued)", "loss at 2N / own",
                                "loss under RK4 x 64 / own", "loss, adaptive Dopri8 / own")):
        ax.set_yscale("log")
        ax.set_xlabel("updates")
        ax.set_title(title)
    axes[4].axhspan(1 - tolerance, 1 + tolerance, color="0.85", zorder=0)
    axes[4].set_ylim(0.5, 2.0)
    axes[4].set_xlabel("updates")
    axes[4].set_title(f"ratio farthest from 1 (band: +-{tolerance:.0%}; clipped)")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "ode_transfer.png", dpi=110)
    plt.close(fig)
    return [out / "ode_transfer.csv", out / "ode_transfer.md", out / "ode_transfer.png"]
