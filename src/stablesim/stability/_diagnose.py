"""The pieces of a stability diagnosis: spectra at states, off-data growth, advice."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ._energy import EnergySpectrum
from ._mitigations import noise_bias, recommend_noise
from ._spectrum import spectrum

DENSE_LIMIT = 2048  # states with more entries use Arnoldi for the k largest eigenvalues
ARNOLDI_K = 16


def linearized_spectra(simulator, states, params, normal_to: EnergySpectrum | None = None
                       ) -> np.ndarray:
    """Jacobian eigenvalues of one step at each state (dense, or Arnoldi for large states);
    with `normal_to`, restricted to the directions without that data's energy (dense: the
    compression onto their basis; Arnoldi: products with P J P, no basis formed)."""
    n = int(np.prod(states.shape[1:]))
    k = None if n <= DENSE_LIMIT else min(ARNOLDI_K, n - 2)
    basis = within = None
    if normal_to is not None and k is None:
        basis = normal_to.unlearnable_basis
    elif normal_to is not None:
        within = normal_to.learnable_basis
    out = [spectrum(simulator, s[None], params=p, basis=basis, k=k, normal_to=within)[0]
           for s, p in zip(states, params)]
    return np.asarray(out)


def off_data_growth(simulator, initial, params, *, steps: int, offset: float, key,
                    normal_to: np.ndarray | None = None) -> np.ndarray:
    """Amplification ||u'(t) - u(t)|| / ||delta|| of perturbed rollouts, per start and step.

    **Arguments:**

    - `simulator`: the trained simulator.
    - `initial`, `params`: start states `(K, *state)` and their parameters.
    - `steps`: rollout length.
    - `offset`: perturbation size relative to each start state's norm.
    - `key`: random key.
    - `normal_to`: orthonormal columns U (e.g. the data's directions): perturb
        normal to them, a Gaussian vector with its U-part removed (the same
        law as Gaussian coefficients on a basis of the complement, without
        forming one); None: any direction.

    **Returns:**

    `(K, steps)` amplifications (inf where a rollout blew up).
    """
    from ..evaluation import rollout_batch

    k = initial.shape[0]
    flat = initial.reshape(k, -1)
    delta = np.array(jax.random.normal(key, flat.shape), np.float64)
    if normal_to is not None:
        u = np.asarray(normal_to, np.float64)
        delta -= (delta @ u) @ u.T
    delta *= (offset * np.linalg.norm(flat, axis=1) / np.linalg.norm(delta, axis=1))[:, None]
    base = rollout_batch(simulator, jnp.asarray(initial), jnp.asarray(params), steps)
    pert = rollout_batch(simulator, jnp.asarray(flat + delta, initial.dtype).reshape(initial.shape),
                         jnp.asarray(params), steps)
    diff = np.linalg.norm(np.asarray(pert - base).reshape(k, steps, -1), axis=-1)
    amp = diff / np.linalg.norm(delta, axis=1)[:, None]
    return np.where(np.isfinite(amp), amp, np.inf)


ADVICE_STATUS = (
    "Lines starting 'Measured' were measured on this run (long rollouts from every validation "
    "start, or training start where the data have no validation set). "
    "Lines starting 'Untested' follow from the linear theory and the run's config: "
    "`stablesim diagnose RUN --verify` fine-tunes the run with each candidate fix and ranks "
    "them by the measured outcome; `stablesim stabilize RUN --out NEW` also keeps the best "
    "as a new run.")
UNTESTED = "Untested: "


def recommendations(energy: EnergySpectrum, radius: float, normal_radius: float | None,
                    growth: float, *, tolerated_bias: float, steps: int,
                    config=None, measured_projection: str | None = None,
                    noise_energy: EnergySpectrum | None = None) -> list[str]:
    """Advice from the diagnostics, each naming the config key and value to set.

    Reads the run's own config (when given) so that nothing it already does is
    recommended again; then it says what to change next instead.

    **Arguments:**

    - `energy`: the training data's energy spectrum (in the states' units: the
        directions a projection would keep).
    - `noise_energy`: the same in the units the noise is added in (a
        normalizing run's); default `energy`.
    - `radius`, `normal_radius`: spectral radii of the step at data states and
        normal to the data (None: no such directions).
    - `growth`: the largest growth of a perturbation off the data.
    - `tolerated_bias`: the noise bias the recommended sigma may cause.
    - `steps`: the rollout length the growth was measured over.
    - `config`: the run's `RunConfig` (None: advice without it).
    - `measured_projection`: the projection's measured effect on this run, which
        replaces the untested projection advice.

    **Returns:**

    Plain sentences, most important first.
    """
    out = []
    m, r = energy.unlearnable_dimension, energy.rank
    horizon = config.evaluation.horizon if config is not None else 1
    noisy = energy if noise_energy is None else noise_energy
    sigma = recommend_noise(noisy.energies, tolerated_bias=tolerated_bias, rank=noisy.rank,
                            horizon=horizon)
    bias = noise_bias(noisy.energies[: noisy.rank], sigma)
    sim = getattr(config, "simulator", None)
    projected = bool(sim and sim.projection)
    residual = bool(sim and sim.setup == "prediction" and sim.residual)
    initializer = config.model.initializer if config is not None else None
    noise = config.modality.noise if config is not None else 0.0
    modality = config.modality if config is not None else None
    optimizer = config.training.optimizer if config is not None else None
    unstable_normal = normal_radius is not None and normal_radius > 1
    if m and projected:
        out.append(f"{m} of {energy.num_features} directions carry no data energy; the run "
                   "already projects every step onto the data subspace (simulator.projection: "
                   "true), so they cannot grow.")
    elif m:
        sampled = (f" (in the {energy.samples} frames sampled, which all count: more "
                   "frames may fill more of them)" if energy.rank_limited_by_samples else "")
        why = (f"{m} of {energy.num_features} directions carry no data energy{sampled}: "
               "training never shapes the map there, its initialization does"
               + (f", and there it is unstable (spectral radius {normal_radius:.3g} > 1)"
                  if unstable_normal else ""))
        out.append(f"{why}. {measured_projection}" if measured_projection else
                   f"{UNTESTED}{why}. Set `simulator.projection: true` to project every step "
                   f"onto the {r}-dimensional data subspace (training and rollouts).")
        linear = config is not None and config.model.architecture == "linear"
        if unstable_normal and residual and linear and initializer not in ("gershgorin",
                                                                          "gershgorin_rows"):
            out.append(f"{UNTESTED}Or start those directions stable: set `model.initializer: "
                       "gershgorin` (for a residual `linear` model the bound ||I + W||_2 <= 0.9 "
                       "holds for the step u + W u itself), and retrain from scratch.")
        elif unstable_normal and residual and not linear:
            out.append(f"{UNTESTED}The model is residual (simulator.residual: true): its step is u + "
                       "net(u), so no initializer of net can put the step normal to the data "
                       "inside the unit circle (with `zeros` it sits exactly on it). Prefer the "
                       "projection above; or set `simulator.residual: false` with "
                       "`model.initializer: gershgorin`.")
        elif unstable_normal and initializer not in ("gershgorin", "zeros"):
            out.append(f"{UNTESTED}Or start those directions stable: set `model.initializer: gershgorin` "
                       "(every compression of each layer stays inside the unit disc)"
                       + (f" instead of {initializer}" if initializer else "") + ".")
        if unstable_normal and optimizer in ("adam", "adamw"):
            out.append(f"{UNTESTED}With training.optimizer: {optimizer} the weights of the empty "
                       "directions still drift (Adam normalises every coordinate); "
                       "`training.optimizer: sgd` leaves them at their initialization.")
        decay = config.training.weight_decay if config is not None else 0.0
        if unstable_normal and decay > 0 and optimizer == "adamw":
            out.append(f"{UNTESTED}training.weight_decay: {decay:g} pulls the weights of the "
                       "empty directions toward zero"
                       + (": for this residual model that is a step of exactly 1 there "
                          "(marginal, not damped)" if residual else
                          ": the step there tends to 0 (damped)") + ".")
    if noise >= sigma * 0.999 and noise > 0:
        out.append(f"Noise is already at modality.noise: {noise:.3g} (the bias limit "
                   f"{1 - tolerated_bias:.2f} allows sigma = {sigma:.3g}); more noise would "
                   "damp the data's own directions further.")
    else:
        out.append(f"{UNTESTED}Noise injection damps every direction by sigma^2: set `modality.noise: "
                   f"{sigma:.3g}`" + (f" (now {noise:.3g})" if noise else "")
                   + f"; chosen for the rollout horizon H = {horizon} (evaluation.horizon): "
                   f"each energetic direction keeps at least {1 - tolerated_bias:.2f} of itself "
                   f"after H steps (compounded (lambda_i/(lambda_i + sigma^2))^H, weakest "
                   f"{bias[-1] ** horizon:.4f}; per step {bias[-1]:.5f}, strongest "
                   f"{bias[0]:.5f}).")
    if radius > 1.01 or growth > 1e3:
        what = (f"The linearized step has eigenvalues outside the unit circle (radius "
                f"{radius:.3g}) at data states" if radius > 1.01 else
                f"Perturbations of relative size 1e-3 off the data grow {growth:.3g}x within "
                f"{steps} steps")
        if modality is None or modality.name == "ONE":
            nxt = "set `modality.name: NOG` with `modality.unroll: 8` (unrolled training sees "
            nxt += "its own errors)"
        elif modality.name == "NOG" and not (sim and sim.setup == "correction"
                                             and (sim.solver == "external"
                                                  or sim.solver_function)):
            nxt = (f"the run trains NOG with modality.unroll: {modality.unroll}; set "
                   f"`modality.unroll: {2 * modality.unroll}`, or `modality.name: WIG`")
        else:
            nxt = (f"the run trains {modality.name} with modality.unroll: {modality.unroll}; "
                   f"set `modality.unroll: {2 * modality.unroll}`")
        out.append(f"{UNTESTED}{what}: {nxt}. Chaotic systems have some growth; many or large "
                   "eigenvalues do not belong to them.")
    return out
