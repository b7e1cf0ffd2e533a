"""`stablesim`'s entry point: parse, run, and turn every user mistake into one line."""

from __future__ import annotations

import os
import pathlib
import sys

from .._errors import StablesimError
from ._parser import build_parser, check_positive


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `stablesim` command."""
    args = build_parser().parse_args(argv)
    try:
        check_positive(args)
        _use_compilation_cache()
        args.func(args)
    except (StablesimError, OSError) as err:
        print(f"stablesim: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:
        print(f"stablesim: {_interrupted_message(args, err)}", file=sys.stderr)
        return 130
    return 0


def _use_compilation_cache() -> None:
    """Keep XLA's compiled programs between commands (JAX's persistent cache).

    A second `train`, a resumed run or the next cell of a study with the same
    shapes skips compilation. The cache lives in `$XDG_CACHE_HOME/stablesim/xla`
    (default `~/.cache`); JAX's own `JAX_COMPILATION_CACHE_DIR` wins, and
    `STABLESIM_XLA_CACHE=off` turns it off. An unwritable place is skipped,
    and so is any run with `XLA_FLAGS` set: they are not part of JAX's cache
    key, and programs cached without `--xla_force_host_platform_device_count`
    hung the collectives of a 4-device run that loaded them.
    """
    if (os.environ.get("JAX_COMPILATION_CACHE_DIR") or os.environ.get("XLA_FLAGS")
            or os.environ.get("STABLESIM_XLA_CACHE") == "off"):
        return
    base = pathlib.Path(os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache")
    path = base / "stablesim" / "xla"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return
    # JAX reads these when it is imported; commands that never compute never import it.
    os.environ["JAX_COMPILATION_CACHE_DIR"] = str(path)
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0.5"
    if "jax" in sys.modules:  # already imported (e.g. `main()` called from Python)
        jax = sys.modules["jax"]
        jax.config.update("jax_compilation_cache_dir", str(path))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


def _interrupted_message(args, err: KeyboardInterrupt) -> str:
    """Where the interrupted work is and the command that continues it."""
    done = getattr(err, "done", None)
    saved = (f"checkpoint written at update {done} of {getattr(err, 'total', '?')}"
             if done is not None
             else "the last checkpoint is kept")
    if args.command in ("run", "study"):
        again = (f"stablesim run{' ' + args.study if args.study else ''}" if args.command == "run"
                 else f"stablesim study {args.study}")
        return (f"interrupted; {saved} in {getattr(err, 'run', None) or args.out}; "
                f"`{again} --out {args.out}` continues the study")
    if args.command == "train":
        run = args.resume or args.out
        return f"interrupted; {saved} in {run}; `stablesim train --resume {run}` continues"
    return "interrupted"
