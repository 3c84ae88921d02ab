"""The training benchmark's variants and profile, and the profile's bookkeeping; no timing is asserted."""

import json
import os
import subprocess
import sys

import jax
import pytest

from nmt.tools.profile import _self_times, instruction_parts
from tests.helpers import ROOT, tiny_config, tiny_overrides

HLO = """
%fused_computation (param_0: f32[8,64], param_1: f32[64,64]) -> f32[8,64] {
  ROOT %dot.2 = f32[8,64]{1,0} dot(%param_0, %param_1), metadata={op_name="jit(f)/while/body/recurrence/dot_general"}
}
ENTRY %main {
  %ynn_fusion = f32[8,64]{1,0} fusion(%a, %b), kind=kCustom, metadata={op_name="jit(f)/transpose(jvp(recurrence))/dot"}
  %wrapped_transpose = f32[64,8]{1,0} fusion(%ynn_fusion), kind=kLoop, metadata={op_name="jit(f)/transpose"}
  %while.5 = (s32[], f32[8,64]{1,0}) while(%tuple), condition=%c, body=%b, metadata={op_name="jit(f)/while"}
  %fusion.3 = f32[] fusion(%x), kind=kLoop, metadata={op_name="jit(f)/optimizer/add"}
  %ynn_fusion.7 = f32[8,64]{1,0} fusion(%bitcast.1, %b), kind=kCustom, calls=%fused_computation.7
  %bitcast.2 = f32[1,8,64]{2,1,0} bitcast(%ynn_fusion.7), metadata={op_name="jit(f)/attention/dot_general"}
  %bitcast.1 = f32[8,64]{1,0} bitcast(%c), metadata={op_name="jit(f)/recurrence/concatenate"}
  %ynn_fusion.8 = f32[8,64]{1,0} fusion(%bitcast.1, %b), kind=kCustom, calls=%fused_computation.8
  %add_fusion.9 = f32[8,64]{1,0} fusion(%ynn_fusion.8), kind=kLoop, metadata={op_name="jit(f)/output_and_loss/add"}
  %ynn_fusion.10 = f32[8,64]{1,0} fusion(%bitcast.1, %b), kind=kCustom, calls=%fused_computation.10
}
"""


def test_instructions_are_attributed_by_scope_then_by_kind():
    parts = instruction_parts(HLO)
    assert parts["dot.2"] == parts["ynn_fusion"] == "recurrent products"  # forward and backward
    assert parts["wrapped_transpose"] == "copies, transposes, masking"
    assert parts["while.5"] == "other operations" and parts["fusion.3"] == "optimizer update"
    # fused products that lost their name stack take their result's bitcast's, else a reader's, else an operand's
    assert parts["ynn_fusion.7"] == "attention"
    assert parts["ynn_fusion.8"] == "output layer and loss"
    assert parts["ynn_fusion.10"] == "recurrent products"


def test_self_times_subtract_nested_events_per_thread():
    events = [
        {"ph": "X", "name": "while.5", "ts": 0, "dur": 100, "pid": 1, "tid": 1},
        {"ph": "X", "name": "ynn_fusion", "ts": 10, "dur": 30, "pid": 1, "tid": 1},
        {"ph": "X", "name": "wrapped_tanh", "ts": 50, "dur": 20, "pid": 1, "tid": 1},
        {"ph": "X", "name": "end: wrapped_tanh", "ts": 70, "dur": 0.1, "pid": 1, "tid": 1},
        {"ph": "X", "name": "copy.1", "ts": 20, "dur": 5, "pid": 1, "tid": 2},
        {"ph": "i", "name": "marker", "ts": 5, "pid": 1, "tid": 1},
    ]
    assert sorted(_self_times(events)) == [("copy.1", 5), ("while.5", 50), ("wrapped_tanh", 20), ("ynn_fusion", 30)]


def test_bench_train_variants_take_turns_and_the_profile_finds_the_models_parts(corpus_dir):
    from nmt.tools.bench_train import bench_train

    res = bench_train(
        tiny_config(corpus_dir),
        steps=2,
        warmup=1,
        rounds=2,
        profile=True,
        variants={"base": [], "unrolled": ["model.unroll=2"], "buckets": ["data.buckets=[4,6,8,10,12,14,16,24]"]},
    )
    assert set(res["variants"]) == {"base", "unrolled", "buckets"} and res["over_first"]["base"] == 1.0
    assert all(v["timed_steps"] == 4 and v["programs"] >= v["programs_compiled"] >= 1 for v in res["variants"].values())
    assert res["variants"]["buckets"]["programs"] > res["variants"]["base"]["programs"]  # its own batches
    parts = res["profile"]["parts"]
    assert {"recurrent products", "output layer and loss", "attention", "optimizer update"} <= set(parts)
    assert all(p["share"] > 0 and p["s_per_step"] > 0 for p in parts.values())
    with pytest.raises(Exception, match="unroll"):
        bench_train(tiny_config(corpus_dir), steps=1, warmup=0, variants={"bad": ["model.unroll=0"]})


def test_commands_keep_compiled_programs_in_the_cache_folder(tmp_path, monkeypatch):
    from nmt import cli

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    before = jax.config.jax_compilation_cache_dir
    try:
        jax.config.update("jax_compilation_cache_dir", None)
        cli.enable_compilation_cache()
        assert jax.config.jax_compilation_cache_dir == str(tmp_path / "nmt" / "jax")
        jax.config.update("jax_compilation_cache_dir", "/elsewhere")
        cli.enable_compilation_cache()  # the user's choice stays
        assert jax.config.jax_compilation_cache_dir == "/elsewhere"
    finally:
        jax.config.update("jax_compilation_cache_dir", before)


def test_the_gpu_training_script_runs_on_the_cpu(corpus_dir, tmp_path):
    """`experiments/device_train.py --cpu`: every model and variant timed, and the cuDNN encoder path (JAX's
    reference implementation of the call, on the CPU) computes what the scan encoder does."""
    overrides = [
        o
        for o in tiny_overrides(corpus_dir)
        if o.startswith(("data.corpus", "data.src", "data.tgt", "data.test", "data.vocab"))
    ]
    r = subprocess.run(
        [
            sys.executable,
            os.path.join(ROOT, "experiments", "device_train.py"),
            "--cpu",
            "--steps",
            "2",
            "--data-dir",
            corpus_dir,
            "--out",
            str(tmp_path),
            *overrides,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res["platform"] == "cpu" and res["cudnn_check"]["matches"], res["cudnn_check"]
    assert res["cudnn_check"]["max_abs_diff"] < 1e-5
    for model in ("reference", "gnmt_size"):
        rows = res["models"][model]
        assert set(rows) == {"f32", "bf16", "bf16_unroll4", "bf16_cudnn"}
        assert all(r["tokens_per_s"] > 0 and r["src_tgt_tokens_per_s"] > r["tokens_per_s"] for r in rows.values())
    assert os.path.exists(tmp_path / "train_cpu.json")


def test_a_continued_runs_minutes_leave_out_the_wait_before_it_was_continued(tmp_path):
    from nmt.tools.results import rows_with_minutes

    launch = 1_000_000.0
    (tmp_path / "vocab.model").write_bytes(b"")
    os.utime(tmp_path / "vocab.model", (launch, launch))
    times = [launch + 60, launch + 120, launch + 120 + 7200, launch + 120 + 7260]  # two hours' wait, then more steps
    (tmp_path / "metrics.jsonl").write_text(
        "".join(json.dumps({"step": i, "time": t}) + "\n" for i, t in enumerate(times))
    )
    assert [m for _, m in rows_with_minutes(str(tmp_path))] == [1.0, 2.0, 2.0, 3.0]
