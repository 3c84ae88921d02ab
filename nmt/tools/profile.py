"""Where a train step's time goes: `python -m nmt.bench train --profile`.

The step runs under `jax.profiler.trace`; every XLA operation it executed is a trace event named after its HLO
instruction. The compiled program's HLO text gives each instruction its JAX name stack, in which the model's
`jax.named_scope`s (input_projection, recurrence, attention, output_and_loss, optimizer, dropout) name the part it
belongs to; operations outside them are grouped by kind (data movement or other). Each event counts its self time
(nested events, such as a loop's body inside the loop, are subtracted). Tracing slows the many small operations of a
step (on a CPU the traced step of `opennmt_rnn` takes 1.5 times as long, of a tiny model 3.5 times), so each part is
reported as its share of the traced operations' time and, in seconds, as that share of the untraced step. Host work
is timed apart: the time a step's call takes to return (dispatch; the step then runs while the host prepares the
next batch) and drawing a batch.
"""

from __future__ import annotations

import collections
import glob
import gzip
import json
import os
import re
import tempfile
import time

import jax

PARTS = (  # scope in the name stack -> part, first match wins
    ("optimizer", "optimizer update"),
    ("output_and_loss", "output layer and loss"),
    ("attention", "attention"),
    ("recurrence", "recurrent products"),
    ("input_projection", "input projections"),
    ("dropout", "dropout masks"),
)
MOVES = {
    "copy",
    "transpose",
    "broadcast",
    "select",
    "pad",
    "concatenate",
    "slice",
    "dynamic-slice",
    "reshape",
    "dynamic-update-slice",
    "gather",
    "scatter",
    "reverse",
    "bitcast",
    "iota",
    "compare",
    "convert",
}
TOP = 5  # instructions listed for each part
_LINE = re.compile(r"^\s*(?:ROOT\s+)?%?(?P<name>[^\s=]+) = .*?\b(?P<op>[a-z][a-z0-9\-]*)\(")
_OP_NAME = re.compile(r'op_name="([^"]*)"')
_OPERAND = re.compile(r"%([\w.\-]+)")


def instruction_parts(hlo_text: str) -> dict[str, str]:
    """HLO instruction name -> the part of the step it belongs to. A fused product of XLA's CPU dot library
    (`ynn_fusion`) keeps no name stack: it belongs to the part of the bitcast that reads its result (which keeps the
    product's name stack), else of the first of its other readers, else of its operands, that has one."""
    lines = {}  # name -> (op, its name stack or None, operands)
    users = collections.defaultdict(list)
    for line in hlo_text.splitlines():
        m = _LINE.match(line)
        if not m:
            continue
        stack = _OP_NAME.search(line)
        operands = _OPERAND.findall(line[m.end() :].split("),")[0])
        lines[m["name"]] = (m["op"], stack[1] if stack else None, operands)
        for operand in operands:
            users[operand].append(m["name"])
    scoped = lambda stack: next((p for scope, p in PARTS if scope in (stack or "")), None)
    parts = {}
    for name, (op, stack, operands) in lines.items():
        part = scoped(stack)
        if stack is None:
            near = sorted(users[name], key=lambda u: lines[u][0] != "bitcast") + operands
            part = next(filter(None, (scoped(lines[n][1]) for n in near if n in lines)), None)
        kind = name.split(".")[0].removeprefix("wrapped_") if op == "fusion" else op
        if part is None:
            part = "copies, transposes, masking" if kind in MOVES else "other operations"
        parts[name] = part
    return parts


def _self_times(events: list[dict]) -> list[tuple[str, float]]:
    """(name, self time in µs) of complete events, nested events subtracted from the ones that hold them."""
    out = []
    by_thread = collections.defaultdict(list)
    for e in events:
        if e.get("ph") == "X" and "dur" in e and not e["name"].startswith("end: "):
            by_thread[(e.get("pid"), e.get("tid"))].append(e)
    for evs in by_thread.values():
        evs.sort(key=lambda e: (e["ts"], -e["dur"]))
        stack = []  # [event, time of its children]
        for e in evs:
            while stack and e["ts"] >= stack[-1][0]["ts"] + stack[-1][0]["dur"]:
                done, kids = stack.pop()
                out.append((done["name"], done["dur"] - kids))
            if stack:
                stack[-1][1] += e["dur"]
            stack.append([e, 0.0])
        out += [(e["name"], e["dur"] - kids) for e, kids in stack]
    return out


def profile_steps(step_fn, args_list: list[tuple], hlo_text: str, step_s: float) -> dict:
    """Runs `step_fn(*args)` for each args (already compiled and warm) under the profiler; returns each part's share
    of the operations' time and that share of `step_s`, the untraced step time."""
    parts = instruction_parts(hlo_text)
    with tempfile.TemporaryDirectory() as logdir:
        jax.block_until_ready(step_fn(*args_list[0]))
        start = time.perf_counter()
        with jax.profiler.trace(logdir, create_perfetto_trace=True):
            for args in args_list:
                jax.block_until_ready(step_fn(*args))
        wall = time.perf_counter() - start
        path = next(iter(glob.glob(os.path.join(logdir, "**", "*.trace.json.gz"), recursive=True)), None)
        if path is None:
            raise RuntimeError("the profiler wrote no trace")
        with gzip.open(path) as f:
            events = json.load(f)["traceEvents"]
    seconds, by_instruction = collections.Counter(), collections.Counter()
    for name, us in _self_times(events):
        if name in parts:
            seconds[parts[name]] += us / 1e6
            by_instruction[name] += us / 1e6
    total = sum(seconds.values())
    top = collections.defaultdict(list)  # each part's costliest instructions, what to look at first
    for name, s in by_instruction.most_common():
        if len(top[parts[name]]) < TOP:
            top[parts[name]].append({"instruction": name, "share": s / total})
    return {
        "step_s": step_s,
        "traced_step_s": wall / len(args_list),
        "parts": {
            k: {"share": v / total, "s_per_step": step_s * v / total, "top": top[k]}
            for k, v in sorted(seconds.items(), key=lambda kv: -kv[1])
        },
    }
