"""The install: pyproject's bounds and the constraints file of tested versions agree."""

import os
import re
import tomllib

from packaging.requirements import Requirement

from tests.helpers import ROOT


def _pins() -> dict[str, str]:
    with open(os.path.join(ROOT, "constraints.txt")) as f:
        found = (re.match(r"([A-Za-z0-9_.\-]+)==(\S+)", line) for line in f)
        return {m.group(1).lower().replace("_", "-"): m.group(2) for m in found if m}


def test_every_dependency_is_pinned_within_its_bounds():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        project = tomllib.load(f)["project"]
    pins = _pins()
    for spec in project["dependencies"] + project["optional-dependencies"]["dev"]:
        req = Requirement(spec)
        name = req.name.lower().replace("_", "-")
        assert name in pins, f"{name} is not pinned in constraints.txt"
        assert req.specifier.contains(pins[name]), f"{name}=={pins[name]} is outside {spec}"
