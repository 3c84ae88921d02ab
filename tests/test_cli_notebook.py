import json
import os

import nbformat
import pytest
from nbclient import NotebookClient

from tests.helpers import ROOT, one_line_error, run_cli, tiny_overrides


def test_help_lists_presets_and_overrides():
    r = run_cli("nmt.train", "--help", text=True)
    assert r.returncode == 0
    assert all(word in r.stdout for word in ("--preset", "tiny", "reference", "section.field=value"))


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["--preset", "huge"], "invalid choice: 'huge'"),
        (["model.hiden=3"], "model.hiden: Key 'hiden' not in 'ModelConfig'. Did you mean: 'hidden'?"),
        (["train.lr=fast"], "train.lr: Value 'fast' of type 'str' could not be converted to Float"),
        (["model.attention=cosine"], "model.attention: expected one of"),
        (["model.remat=everything"], "model.remat: unknown policy 'everything'; valid: none, full"),
        (["model.memory_budget=1GiB"], "model.memory_budget=1GiB is read only with model.remat=auto"),
    ],
)
def test_user_mistakes_are_one_line_errors(args, needle):
    assert needle in one_line_error(run_cli("nmt.train", *args))


@pytest.mark.parametrize(
    "command, args, line",
    [
        (
            "nmt.translate",
            ["--checkpoint", "x", "--beam", "0", "--alpha", "-1"],
            "nmt.translate: error: --beam must be >= 1, got 0; --alpha must be >= 0, got -1.0",
        ),
        ("nmt.evaluate", ["--checkpoint", "x", "--beta", "-0.5"], "nmt.evaluate: error: --beta must be >= 0, got -0.5"),
        ("nmt.bench", [], "nmt.bench: error: the following arguments are required: {train,decode,memory} (see --help)"),
    ],
)
def test_a_wrong_option_is_named_with_its_value(command, args, line):
    assert one_line_error(run_cli(command, *args, text=True)) == line


def test_missing_data_is_a_one_line_error(tmp_path):
    r = run_cli("nmt.train", "--workdir", str(tmp_path / "w"), "data.corpus=files", f"data.dir={tmp_path}")
    assert "train.en: not found in" in one_line_error(r)


def execute_notebook(name: str, env: dict):
    nb = nbformat.read(os.path.join(ROOT, "notebooks", name), as_version=4)
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": ROOT}}).execute()
    finally:
        for k, v in old.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    images = sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))
    return text, images


def test_quickstart_notebook_executes(corpus_dir, tmp_path):
    text, images = execute_notebook(
        "01_quickstart.ipynb",
        {
            "NMT_NOTEBOOK_STEPS": "20",
            "NMT_NOTEBOOK_OVERRIDES": json.dumps(tiny_overrides(corpus_dir)),
            "NMT_NOTEBOOK_WORKDIR": str(tmp_path / "run"),
        },
    )
    assert "test BLEU" in text and "HYP" in text and images >= 1


def test_beam_search_notebook_executes(tiny_run):
    text, images = execute_notebook(
        "03_beam_search.ipynb", {"NMT_NOTEBOOK_RUN": tiny_run, "NMT_NOTEBOOK_SENTENCES": "12"}
    )
    assert "alpha 1.0 beam 10" in text and "SRC" in text and images == 3


def test_remat_ablation_notebook_executes(tmp_path):
    text, images = execute_notebook(
        "02_remat_ablation.ipynb", {"NMT_NOTEBOOK_TINY": "1", "NMT_NOTEBOOK_RESULTS": str(tmp_path)}
    )
    assert "no stored sweep" in text and "sqrt_t" in text and "host" in text and images == 2


def test_compression_notebook_executes(tiny_run):
    text, images = execute_notebook(
        "04_compression.ipynb", {"NMT_NOTEBOOK_RUN": tiny_run, "NMT_NOTEBOOK_SENTENCES": "12", "NMT_NOTEBOOK_RANK": "4"}
    )
    assert "rank 4 + int8" in text and "pruned to 12 units" in text and "rank for 90%" in text and images == 2
