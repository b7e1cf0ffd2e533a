"""A user's own data: 1D viscous Burgers from a pseudo-spectral reference solver (NumPy).

Writes `burgers.h5` in stablesim's data format (`trajectories` shaped
(trajectories, time, channels, space), `params` shaped (trajectories, 1),
`parameter_names`, `dt`) and `initial.h5` (fresh initial states for
`stablesim rollout`).

    python make_data.py [--out DIR] [--per-value 4] [--frames 60]
"""

import argparse
import pathlib

import h5py
import numpy as np

FRAME_DT = 0.05
NUM_POINTS = 64
VALUES = {"train": [0.02, 0.03, 0.05, 0.08], "interpolation": [0.04], "extrapolation": [0.1]}


def reference_frames(u0, nu, frames, substeps=50):
    """Pseudo-spectral (2/3 dealiased) RK4 with integrating factor; `frames` states."""
    n = u0.size
    k = np.fft.rfftfreq(n, d=1.0 / n)
    dealias = k < (2.0 / 3.0) * (n / 2)
    dt = FRAME_DT / substeps
    decay = np.exp(-nu * k**2 * dt / 2)

    def nonlinear(v):
        u = np.fft.irfft(v, n)
        return -0.5j * k * np.fft.rfft(u * u) * dealias

    v = np.fft.rfft(u0)
    out = [u0]
    for _ in range(frames - 1):
        for _ in range(substeps):
            a = nonlinear(v)
            b = nonlinear(decay * (v + dt / 2 * a))
            c = nonlinear(decay * v + dt / 2 * b)
            d = nonlinear(decay**2 * v + dt * decay * c)
            v = decay**2 * v + dt / 6 * (decay**2 * a + 2 * decay * (b + c) + d)
        out.append(np.fft.irfft(v, n))
    return np.stack(out)


def random_initial(rng):
    x = np.linspace(0, 2 * np.pi, NUM_POINTS, endpoint=False)
    u = sum(rng.normal() / (m + 1) * np.sin(m * x + rng.uniform(0, 2 * np.pi))
            for m in range(1, 4))
    return 0.6 * u / np.abs(u).max()


def make(values, per_value, frames, seed):
    rng = np.random.default_rng(seed)
    traj, params = [], []
    for nu in values:
        for _ in range(per_value):
            traj.append(reference_frames(random_initial(rng), nu, frames)[:, None, :])
            params.append([nu])
    return np.asarray(traj, np.float32), np.asarray(params, np.float32)


def write(path, traj, params):
    with h5py.File(path, "w") as f:
        f.create_dataset("trajectories", data=traj)
        f.create_dataset("params", data=params)
        f.attrs["parameter_names"] = ["nu"]  # a plain list attribute works as well as JSON
        f.attrs["dt"] = FRAME_DT


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=".")
    parser.add_argument("--per-value", type=int, default=4)
    parser.add_argument("--frames", type=int, default=60)
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    every = VALUES["train"] + VALUES["interpolation"] + VALUES["extrapolation"]
    traj, params = make(every, args.per_value, args.frames, seed=0)
    write(out / "burgers.h5", traj, params)
    traj, params = make([0.04], 2, 2, seed=1)
    write(out / "initial.h5", traj, params)
    print(f"wrote {out / 'burgers.h5'} {traj.shape[2:]} states and {out / 'initial.h5'}")


if __name__ == "__main__":
    main()
