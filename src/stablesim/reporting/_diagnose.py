"""Plots and the markdown/HTML document of `stablesim diagnose`."""

from __future__ import annotations

import pathlib

import numpy as np

from ..stability import ADVICE_STATUS
from ._document import Document
from ._plots import plt


def _save(fig, path: pathlib.Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_diagnose_report(diagnosis) -> pathlib.Path:
    """Write energy.png, eigenvalues.png, growth.png, diagnose.md and diagnose.html.

    **Arguments:**

    - `diagnosis`: what `stablesim.runs.diagnose_run` returned.

    **Returns:**

    The path of `diagnose.md` (next to it `diagnose.html`, with the plots embedded).
    """
    out, figures, energy = diagnosis.out_dir, diagnosis.figures, diagnosis.energy
    eigs, normal = diagnosis.eigenvalues, diagnosis.normal_eigenvalues
    growth_any, growth_normal = diagnosis.growth_any, diagnosis.growth_normal
    cols = 2 if energy.fourier is not None else 1
    fig, axes = plt.subplots(1, cols, figsize=(5.4 * cols, 3.8), squeeze=False)
    ax = axes[0, 0]
    k = np.arange(1, energy.num_features + 1)
    ax.semilogy(k, np.maximum(energy.energies, 1e-300), ".-", label="POD energy")
    ax.axvline(energy.rank + 0.5, color="k", ls="--", lw=0.8, label=f"rank {energy.rank}")
    ax.set_xlabel("direction")
    ax.set_ylabel("energy lambda_i")
    ax.set_ylim(bottom=max(energy.energies[0] * 1e-16, 1e-300))
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    if energy.fourier is not None:
        ax = axes[0, 1]
        for c, row in enumerate(energy.fourier):
            ax.semilogy(np.arange(row.size), np.maximum(row, 1e-300), label=f"channel {c}")
        ax.set_xlabel("wavenumber")
        ax.set_ylabel("mean Fourier power")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    _save(fig, out / "energy.png")

    fig, ax = plt.subplots(figsize=(5.0, 5.0))
    t = np.linspace(0, 2 * np.pi, 400)
    ax.plot(np.cos(t), np.sin(t), "k-", lw=0.8, label="unit circle")
    ev = np.ravel(eigs)
    ax.plot(ev.real, ev.imag, "o", ms=3, alpha=0.6, label="Jacobian at data states")
    if normal is not None:
        nv = np.ravel(normal)
        ax.plot(nv.real, nv.imag, "x", ms=4, label="normal to the data")
    ax.set_aspect("equal")
    ax.set_xlabel("Re")
    ax.set_ylabel("Im")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    _save(fig, out / "eigenvalues.png")

    fig, ax = plt.subplots(figsize=(6.0, 3.8))
    steps = np.arange(1, growth_any.shape[1] + 1)
    for name, g in (("any direction", growth_any), ("no-energy directions", growth_normal)):
        if g is not None:
            finite = np.where(np.isfinite(g), g, np.nan)
            (line,) = ax.semilogy(steps, np.nanmedian(finite, axis=0), label=f"{name} (median)")
            ax.fill_between(steps, np.nanmin(finite, axis=0), np.nanmax(finite, axis=0),
                            color=line.get_color(), alpha=0.2)
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_xlabel("rollout step")
    ax.set_ylabel("|perturbed - unperturbed| / |perturbation|")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    _save(fig, out / "growth.png")

    doc = Document()
    title = f"stablesim diagnose: {figures['run']}"
    doc.heading(title, 1)
    doc.table(["quantity", "value"], [
        ["state dimension", figures["features"]],
        ["numerical rank of the training data", figures["rank"]],
        ["unlearnable dimension (no data energy)", figures["unlearnable_dimension"]],
        ["energy condition number lambda_1 / lambda_r", _fmt(figures["condition_number"])],
        ["seed analysed", figures.get("seed_choice", figures["seed"])],
        ["spectral radius at data states, per seed",
         ", ".join(f"seed {k}: {_fmt(v)}" for k, v in
                   figures.get("spectral_radius_per_seed", {}).items()) or "-"],
        ["spectral radius of the step at data states", _fmt(figures["spectral_radius"])],
        ["unstable eigenvalues per state", figures["unstable_eigenvalues_per_state"]],
        ["spectral radius normal to the data", _fmt(figures["normal_spectral_radius"])],
        ["largest growth of a perturbation (any direction)", _fmt(figures["growth_any_max"])],
        ["largest growth (no-energy directions)", _fmt(figures["growth_normal_max"])],
        ["recommended noise sigma", _fmt(figures["recommended_noise"])],
        ["Jacobians by", figures.get("jacobians", "autodiff")],
    ])
    doc.heading("Recommendations", 2)
    doc.paragraph(ADVICE_STATUS)
    for line in figures["recommendations"]:
        doc.paragraph("- " + line)
    doc.heading("Plots", 2)
    doc.image("energy.png", "Data energy spectrum (POD) of the training set"
              + (" and its Fourier power spectrum" if energy.fourier is not None else ""))
    doc.image("eigenvalues.png", "Eigenvalues of the trained step's Jacobian at data states, "
                                 "against the unit circle")
    doc.image("growth.png", "Growth of rollouts started slightly off the data (seed "
                            f"{figures['seed']})")
    md, _ = doc.write(out, title=title, stem="diagnose")
    return md


def _fmt(x) -> str:
    if x is None:
        return "n/a"
    return f"{x:.4g}" if isinstance(x, float) else str(x)
