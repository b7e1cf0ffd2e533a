"""The public API is each subpackage's `__all__`: documented in the README, every name real."""

import importlib
import inspect
import pathlib
import re

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def _readme_api() -> dict[str, list[str]]:
    section = README.read_text().split("### The public API", 1)[1].split("\n`make test`", 1)[0]
    return {m: re.findall(r"`([^`]+)`", names)
            for m, names in re.findall(r"^- `(stablesim[\w.]*)`: (.*)$", section, re.M)}


def test_the_readme_lists_exactly_each_subpackages_all():
    listed = _readme_api()
    assert len(listed) == 14
    for module, names in listed.items():
        assert list(importlib.import_module(module).__all__) == names, module


def test_every_public_name_exists_and_every_function_and_class_says_what_it_does():
    for module in _readme_api():
        mod = importlib.import_module(module)
        for name in mod.__all__:
            assert not name.startswith("_") or name == "__version__", f"{module}.{name}"
            value = getattr(mod, name)
            if inspect.isfunction(value) or inspect.isclass(value):
                assert (value.__doc__ or "").strip(), f"{module}.{name} has no docstring"
