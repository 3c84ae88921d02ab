import json
import os
import subprocess
import sys

import pytest

from nmt.decode import BeamConfig
from nmt.inference import load_run
from nmt.translate import translate_lines

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LINES = [b"the cat sees a dog", b"", b"red \xff car drives", b" ".join([b"big tree"] * 40), b"a man eats", b""]


def run_cli(*args, stdin=None, corpus=None):
    env = dict(os.environ, PYTHONPATH=ROOT)
    if corpus:
        env["NMT_DATA_DIR"] = corpus
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, input=stdin, capture_output=True, env=env,
                          timeout=300)


@pytest.mark.parametrize("beam", [1, 3])
def test_cli_keeps_line_count_and_order(tiny_run, tmp_path, beam):
    src = tmp_path / "in.txt"
    src.write_bytes(b"\n".join(LINES) + b"\n")
    out = tmp_path / "out.txt"
    r = run_cli("nmt.translate", "--checkpoint", tiny_run, "--input", str(src), "--output", str(out),
                "--beam", str(beam))
    assert r.returncode == 0, r.stderr
    err = r.stderr.decode()
    assert "invalid UTF-8 replaced on 1 lines: 3" in err and "truncated: 4" in err
    got = out.read_text().split("\n")[:-1]
    assert len(got) == len(LINES) and got[1] == "" and got[5] == ""
    run = load_run(tiny_run)
    cfg = BeamConfig(beam=beam)
    for i, line in enumerate(LINES):  # each line translated alone gives the same output as in the file
        if line:
            alone = translate_lines(run, [line.decode("utf-8", "replace")], cfg, 1, lambda s: None)[0][0][1]
            assert got[i] == alone


def test_cli_nbest_lists(tiny_run):
    r = run_cli("nmt.translate", "--checkpoint", tiny_run, "--beam", "4", "--nbest", "3",
                stdin=b"the cat\n\nbig red car\n")
    assert r.returncode == 0, r.stderr
    rows = [line.split("\t") for line in r.stdout.decode().splitlines()]
    assert [int(x[0]) for x in rows] == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    for i in (0, 2):
        scores = [float(x[1]) for x in rows if int(x[0]) == i]
        assert scores == sorted(scores, reverse=True)


def test_cli_bad_checkpoint_is_one_line(tmp_path):
    r = run_cli("nmt.translate", "--checkpoint", str(tmp_path), stdin=b"x\n")
    err = r.stderr.decode().strip().splitlines()
    assert r.returncode != 0 and len(err) == 1 and "not a run directory" in err[0]
    (tmp_path / "config.json").write_text(json.dumps({"model": {"hidden": "wide"}}))
    (tmp_path / "vocab.model").write_text("")
    r = run_cli("nmt.translate", "--checkpoint", str(tmp_path), stdin=b"x\n")
    err = r.stderr.decode().strip().splitlines()
    assert r.returncode != 0 and len(err) == 1 and "config.json" in err[0], err


def test_evaluate_reports_greedy_and_beam(tiny_run, corpus_dir):
    r = run_cli("nmt.evaluate", "--checkpoint", tiny_run, "--split", "test", "--beam", "3", corpus=corpus_dir)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout.decode().strip().splitlines()[-1])
    assert res["sentences"] == 30
    for k in ("greedy", "beam3"):
        assert {"bleu", "bleu_lc", "chrf", "signature"} <= set(res[k]) and 0 <= res[k]["bleu"] <= 100
