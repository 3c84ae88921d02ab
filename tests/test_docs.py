"""The figures that README.md and experiments/README.md quote from results files are the ones in those files.

A quoted figure is written as a link to its file with a JSON pointer to its field,
`[39.61](experiments/results/recipe.json#/ema_lr3e-3_5k/test_beam5/1)`; the text must be that field rounded to the
digits shown (a percentage may quote a fraction: `[8.6%](...)` of 0.0861; commas, signs and unit marks such as `×`,
`ms` or `%` are read around the number).
"""

import json
import os
import re

import pytest

from tests.helpers import ROOT

DOCS = ("README.md", os.path.join("experiments", "README.md"))
LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]*results/[^)\s#]+\.json)#(/[^)\s]*)\)")
NUMBER = re.compile(r"[-+−]?\d[\d,]*(?:\.\d+)?")


def quoted(doc: str) -> list[tuple[str, str, str]]:
    """(text, file path from the repository's root, JSON pointer) of every quoted figure in `doc`."""
    with open(os.path.join(ROOT, doc)) as f:
        text = f.read()
    base = os.path.dirname(doc)
    return [(t, os.path.normpath(os.path.join(base, path)), pointer) for t, path, pointer in LINK.findall(text)]


def resolve(data, pointer: str):
    for part in pointer.lstrip("/").split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data


def matches(text: str, value: float) -> bool:
    found = NUMBER.search(text.replace("**", ""))
    if found is None:
        return False
    shown = found.group(0).replace(",", "").replace("−", "-")
    digits = len(shown.split(".")[1]) if "." in shown else 0
    candidates = [value, 100 * value] if "%" in text else [value]
    return any(abs(abs(float(shown)) - abs(round(v, digits))) < 0.5 * 10**-digits + 1e-9 for v in candidates)


@pytest.mark.parametrize("doc", DOCS)
def test_every_quoted_figure_is_the_one_in_its_results_file(doc):
    figures = quoted(doc)
    assert len(figures) >= 10, f"{doc} quotes {len(figures)} figures from results files"
    wrong = []
    for text, path, pointer in figures:
        with open(os.path.join(ROOT, path)) as f:
            value = resolve(json.load(f), pointer)
        if not isinstance(value, (int, float)) or not matches(text, float(value)):
            wrong.append(f"[{text}]({path}#{pointer}) is {value!r} there")
    assert not wrong, "\n".join(wrong)


def test_the_checker_reads_figures_as_they_are_written():
    assert matches("**39.61**", 39.6149) and matches("1,854", 1854.2) and matches("0.48×", 0.4812)
    assert matches("8.6%", 0.0861) and matches("+1.94", 1.9351) and not matches("39.6", 39.71)
    assert resolve({"a": [{"b/c": 3}]}, "/a/0/b~1c") == 3


def test_every_link_between_the_documents_leads_somewhere():
    docs = ["README.md", os.path.join("experiments", "README.md")]
    docs += [os.path.join("docs", f) for f in sorted(os.listdir(os.path.join(ROOT, "docs")))]
    broken = []
    for doc in docs:
        with open(os.path.join(ROOT, doc)) as f:
            text = f.read()
        for target, anchor in re.findall(r"\]\(([^)#\s]*)(?:#([^)\s]*))?\)", text):
            if target.startswith("http"):
                continue
            path = os.path.normpath(os.path.join(ROOT, os.path.dirname(doc), target)) if target else None
            if path and not os.path.exists(path):
                broken.append(f"{doc}: {target}")
            elif anchor and not anchor.startswith("/") and (not target or target.endswith(".md")):
                with open(path or os.path.join(ROOT, doc)) as f:
                    headings = {
                        re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-")
                        for h in re.findall(r"(?m)^#+ (.*)$", f.read())
                    }
                if anchor not in headings:
                    broken.append(f"{doc}: {target}#{anchor}")
    assert not broken, "\n".join(broken)
