import json
import os
import subprocess
import sys

import pytest

from nmt.decode import BeamConfig
from nmt.run import load_run
from nmt.run.translation import translator_for
from tests.helpers import LINES, ROOT, one_line_error, run_cli


@pytest.mark.parametrize("beam", [1, 3])
def test_cli_keeps_line_count_and_order(tiny_run, tmp_path, beam):
    src = tmp_path / "in.txt"
    src.write_bytes(b"\n".join(LINES) + b"\n")
    out = tmp_path / "out.txt"
    r = run_cli(
        "nmt.translate", "--checkpoint", tiny_run, "--input", str(src), "--output", str(out), "--beam", str(beam)
    )
    assert r.returncode == 0, r.stderr
    err = r.stderr.decode()
    assert "invalid UTF-8 replaced on 1 lines: 3" in err and "truncated: 4" in err
    got = out.read_text().split("\n")[:-1]
    assert len(got) == len(LINES) and got[1] == "" and got[5] == ""
    translator = translator_for(load_run(tiny_run), BeamConfig(beam=beam))
    for i, line in enumerate(LINES):  # each line translated alone gives the same output as in the file
        if line:
            assert got[i] == translator.translate([line.decode("utf-8", "replace")])[0].text


def test_the_translator_answers_lines_in_order_and_sentences_that_arrive_over_time(tiny_run):
    from nmt.decode import Hypothesis, Translation

    run = load_run(tiny_run)
    translator = translator_for(run, BeamConfig(beam=3), nbest=2, slots=4)
    lines = ["the cat sees a dog", "", " ".join(["big tree"] * 40), "a man eats"]
    out = translator.translate(lines)
    assert [len(t.hypotheses) for t in out] == [2] * 4 and [t.truncated for t in out] == [False, False, True, False]
    assert out[1] == Translation((Hypothesis("", 0.0),) * 2)
    assert all(t.hypotheses[0].score >= t.hypotheses[1].score for t in out)
    first, second = translator.submit(lines[:2]), translator.submit(lines[2:])
    done = {}
    while not translator.idle():
        done.update(translator.collect())
    assert done == {first: out[:2], second: out[2:]} and translator.collect() == {}
    fixed = translator_for(run, BeamConfig(beam=3), nbest=2).translate(lines)  # fixed batches: the same
    assert [[h.text for h in t.hypotheses] for t in fixed] == [[h.text for h in t.hypotheses] for t in out]


def test_cli_nbest_lists(tiny_run):
    r = run_cli(
        "nmt.translate", "--checkpoint", tiny_run, "--beam", "4", "--nbest", "3", stdin=b"the cat\n\nbig red car\n"
    )
    assert r.returncode == 0, r.stderr
    rows = [line.split("\t") for line in r.stdout.decode().splitlines()]
    assert [int(x[0]) for x in rows] == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    for i in (0, 2):
        scores = [float(x[1]) for x in rows if int(x[0]) == i]
        assert scores == sorted(scores, reverse=True)


def test_cli_bad_checkpoint_is_one_line(tmp_path):
    r = run_cli("nmt.translate", "--checkpoint", str(tmp_path), stdin=b"x\n")
    assert "not a run directory" in one_line_error(r)
    (tmp_path / "config.json").write_text(json.dumps({"model": {"hidden": "wide"}}))
    (tmp_path / "vocab.model").write_text("")
    r = run_cli("nmt.translate", "--checkpoint", str(tmp_path), stdin=b"x\n")
    assert "config.json" in one_line_error(r)
    r = run_cli("nmt.translate", "--checkpoint", str(tmp_path), "--input", str(tmp_path / "missing.txt"))
    assert one_line_error(r) == f"nmt.translate: error: {tmp_path / 'missing.txt'}: No such file or directory"


def test_evaluate_reports_greedy_and_beam(tiny_run, corpus_dir):
    r = run_cli("nmt.evaluate", "--run", tiny_run, "--split", "test", "--beam", "3", "--greedy", corpus=corpus_dir)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout.decode().strip().splitlines()[-1])
    assert res["sentences"] == 30
    for k in ("greedy", "beam3"):
        assert {"bleu", "bleu_lc", "chrf", "signature"} <= set(res[k]) and 0 <= res[k]["bleu"] <= 100


def _bytes(path) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


def test_release_keeps_parameters_and_drops_optimizer_state(tiny_run, tmp_path, capsys):
    import jax
    import numpy as np

    from nmt import release

    out = str(tmp_path / "released")
    release.main(["--checkpoint", tiny_run, "--out", out])
    full, rel = load_run(tiny_run), load_run(out)
    assert rel.step == full.step and rel.which == "best"
    assert jax.tree.structure(rel.params) == jax.tree.structure(full.params)
    assert all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(full.params), jax.tree.leaves(rel.params)))
    # Adam keeps two moments per parameter: the released checkpoint is about a third of the trained one
    assert _bytes(os.path.join(out, "checkpoints")) < 0.5 * _bytes(os.path.join(tiny_run, "checkpoints", "best"))
    lines = ["the cat sees a dog", "a man eats"]
    cfg = BeamConfig(beam=3)
    assert translator_for(rel, cfg).translate(lines) == translator_for(full, cfg).translate(lines)
    with pytest.raises(SystemExit) as stop:
        release.main(["--checkpoint", tiny_run, "--out", out])
    assert stop.value.code == 2 and "already exists" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == ["released"]  # no temporary folder left behind


def test_checkpoint_written_on_other_devices_restores_here(tmp_path):
    """A run saved from device 3 of 4 (say, a GPU or another mesh) loads in a process that has one device."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from nmt.checkpoints import Checkpoints

    code = (
        "import sys, jax, jax.numpy as jnp\n"
        "from nmt.checkpoints import Checkpoints\n"
        "d = jax.devices()[3]\n"
        "state = {'w': jax.device_put(jnp.arange(6.0).reshape(2, 3), d), 'step': jax.device_put(jnp.int32(7), d)}\n"
        "c = Checkpoints(sys.argv[1]); c.save_latest(7, state, {'from': 'device 3'}); c.close()\n"
    )
    env = dict(os.environ, PYTHONPATH=ROOT, XLA_FLAGS="--xla_force_host_platform_device_count=4")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path)], env=env, capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    assert jax.device_count() == 1
    ckpt = Checkpoints(str(tmp_path))
    try:
        abstract = {"w": jax.ShapeDtypeStruct((2, 3), jnp.float32), "step": jax.ShapeDtypeStruct((), jnp.int32)}
        state, meta = Checkpoints.restore(ckpt.latest, abstract)
    finally:
        ckpt.close()
    assert meta == {"from": "device 3"} and int(state["step"]) == 7
    np.testing.assert_array_equal(state["w"], np.arange(6.0).reshape(2, 3))
    assert state["w"].devices() == {jax.devices()[0]}


def test_decode_bench_with_a_checkpoint_takes_only_data_overrides(tiny_run):
    r = run_cli("nmt.bench", "decode", "--checkpoint", tiny_run, "model.hidden=32")
    err = one_line_error(r)
    assert "model.hidden=32" in err and "only data.*" in err, err


def test_evaluated_parameters_are_kept_and_load(tiny_run):
    import jax
    import numpy as np

    from nmt.run.errors import RunError

    first, last = load_run(tiny_run, "evaluated", step=20), load_run(tiny_run, "evaluated")
    latest = load_run(tiny_run, "latest")
    assert (first.step, last.step, latest.step) == (20, 40, 40) and last.which == "evaluated"
    assert all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(last.params), jax.tree.leaves(latest.params)))
    assert not all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(first.params), jax.tree.leaves(last.params)))
    with pytest.raises(RunError, match="no evaluated checkpoint at step 30 \\(there are 20, 40\\)"):
        load_run(tiny_run, "evaluated", step=30)


def test_translate_answers_each_line_of_a_pipe_before_the_next_arrives_and_writes_what_a_whole_file_gets(
    tiny_run, tmp_path
):
    """As `fairseq-interactive`: a line's translation comes out while stdin is still open; the whole output is the
    same, byte for byte, as the file-to-file command's (--output), warnings included."""
    import select

    proc = subprocess.Popen(
        [sys.executable, "-m", "nmt.translate", "--run", tiny_run, "--beam", "3"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(os.environ, PYTHONPATH=ROOT),
    )
    answers = []
    for line in LINES:
        proc.stdin.write(line + b"\n")
        proc.stdin.flush()
        ready, _, _ = select.select([proc.stdout], [], [], 120)  # answered with stdin still open
        assert ready, "no answer to a line while stdin stays open"
        answers.append(proc.stdout.readline())
    proc.stdin.close()
    assert proc.stdout.read() == b"" and proc.wait(timeout=60) == 0
    src = tmp_path / "in.txt"
    src.write_bytes(b"\n".join(LINES) + b"\n")
    whole = run_cli(
        "nmt.translate", "--run", tiny_run, "--beam", "3", "--input", str(src), "--output", str(tmp_path / "out.txt")
    )
    assert b"".join(answers) == (tmp_path / "out.txt").read_bytes()
    err = proc.stderr.read().decode()
    assert "invalid UTF-8 replaced on 1 lines: 3" in err and "truncated: 4" in err
    assert "truncated: 4" in whole.stderr.decode()


def test_the_encoder_unrolled_gives_the_same_memory_and_translations(tiny_run):
    """Translating with the encoder's scans unrolled (`Translator`'s unroll, --unroll) changes numbers only by float
    rounding (XLA fuses the unrolled steps differently: a few elements of the memory differ in their last bit), so
    the same n-best lists, in fixed batches and with slots."""
    import jax
    import numpy as np

    from nmt.decode.search import _encode

    run = load_run(tiny_run)
    lines = ["the cat sees a dog", " ".join(["big tree"] * 40), "a man eats", "red car drives fast"]
    src = np.zeros((3, 13), np.int32)  # a length that 8 does not divide, rows of three lengths
    for row, n in enumerate((13, 5, 1)):
        src[row, :n] = np.arange(4, 4 + n)
    memory, found = {}, {}
    for unroll in (None, 8):
        fixed = translator_for(run, BeamConfig(beam=3), nbest=2, unroll=unroll)
        model, params = fixed.models[0]
        assert model.cfg.unroll == (unroll or run.model.cfg.unroll) and run.model.cfg.unroll == 1
        memory[unroll] = jax.device_get(_encode(model, params, src, None))
        slots = translator_for(run, BeamConfig(beam=3), nbest=2, slots=4, unroll=unroll)
        found[unroll] = (fixed.translate(lines), slots.translate(lines))
    for a, b in zip(jax.tree.leaves(memory[8]), jax.tree.leaves(memory[None])):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    for got, want in zip(found[8], found[None]):
        assert [[h.text for h in t.hypotheses] for t in got] == [[h.text for h in t.hypotheses] for t in want]
        scores = lambda ts: [h.score for t in ts for h in t.hypotheses]
        np.testing.assert_allclose(scores(got), scores(want), rtol=1e-5)
    r = run_cli("nmt.translate", "--checkpoint", tiny_run, "--unroll", "0", stdin=b"the cat\n")
    assert "--unroll must be >= 1, got 0" in one_line_error(r)
