"""Does a smooth-in-time neural ODE keep its meaning under another discretisation?

A teacher flow map (tanh field, parameters piecewise linear in time, 3 knots,
RK4 with 256 steps) on 64 points of R^2; students are `TimeFunction`s with 4
linear knots, trained with Adam (lr 1e-2) through RK4 at N = 4 and through
leapfrog at N = 16. Every 500 updates: the loss under the training
discretisation ("own"), and its ratio under 2N of the same method and under
RK4 at 64 steps. Float64, one process.

Run: .venv/bin/python benchmarks/bench_ode_transfer.py
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import optax

from stablesim.ode import TimeFunction, integrate_in_time

T1 = 1.0


def field(x, theta):
    return jnp.tanh(theta["W"] @ x + theta["b"])


def main() -> None:
    jax.config.update("jax_enable_x64", True)
    teacher = TimeFunction({"W": 1.5 * jax.random.normal(jax.random.PRNGKey(0), (3, 2, 2)),
                            "b": jax.random.normal(jax.random.PRNGKey(1), (3, 2))}, t1=T1)
    x0 = jax.random.normal(jax.random.PRNGKey(2), (64, 2))
    y = jax.vmap(lambda x: integrate_in_time(field, teacher, x, t1=T1, steps=256).x1)(x0)

    def loss(theta, method, steps):
        pred = jax.vmap(lambda x: integrate_in_time(field, theta, x, t1=T1, steps=steps,
                                                    method=method).x1)(x0)
        return jnp.mean(jnp.sum((pred - y) ** 2, axis=-1))

    def train(theta, method, steps, updates):
        opt = optax.adam(1e-2)

        def update(carry, _):
            p, state = carry
            value, grads = jax.value_and_grad(loss)(p, method, steps)
            changes, state = opt.update(grads, state, p)
            return (optax.apply_updates(p, changes), state), value

        run = jax.jit(lambda p: jax.lax.scan(update, (p, opt.init(p)), None, length=updates))
        return run(theta)[0][0]

    start = time.perf_counter()
    print("| method, N | updates | own loss | 2N / own | RK4 x 64 / own |")
    print("| --- | --- | --- | --- | --- |")
    for method, steps in (("rk4", 4), ("leapfrog", 16)):
        theta = TimeFunction.constant({"W": jnp.zeros((2, 2)), "b": jnp.zeros(2)}, knots=4,
                                      t1=T1)
        for chunk in range(1, 5):
            theta = train(theta, method, steps, 500)
            own = float(loss(theta, method, steps))
            fine = float(loss(theta, method, 2 * steps))
            other = float(loss(theta, "rk4", 64))
            print(f"| {method}, {steps} | {500 * chunk} | {own:.3e} | {fine / own:.3f} | "
                  f"{other / own:.3f} |", flush=True)
    print(f"{time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
