"""Progress lines for long steps that have no natural progress bar."""

from __future__ import annotations

import contextlib
import sys
import time


def reporter(enabled: bool):
    """`say(text)`: a context manager printing `text ...` and then its duration.

    **Arguments:**

    - `enabled`: print anything at all (False: silent).

    **Returns:**

    The context-manager factory.
    """

    @contextlib.contextmanager
    def say(text: str):
        t0 = time.perf_counter()
        if enabled:
            print(f"{text} ...", end="", flush=True, file=sys.stdout)
        yield
        if enabled:
            print(f" {time.perf_counter() - t0:.1f} s", flush=True, file=sys.stdout)

    return say
