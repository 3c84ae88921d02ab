"""How every benchmark and experiment reports: a table for people, then one JSON object as the last line."""
from __future__ import annotations

import json
import os

from nmt.utils import write_atomic


def print_report(title: str, result: dict) -> None:
    print(f"\n{title}")
    for k, v in result.items():
        print(f"  {k:<22} {v:,.4g}" if isinstance(v, (int, float)) else f"  {k:<22} {v}")
    print(json.dumps(result))


def write_result(out_dir: str, name: str, result: dict) -> None:
    """Writes `result` to `out_dir/name` (indented JSON) and prints it as the last line."""
    write_atomic(os.path.join(out_dir, name), json.dumps(result, indent=1))
    print(json.dumps(result))


def run_and_keep(cmd: list[str], out_dir: str, name: str) -> dict:
    """Runs a command that reports as every benchmark does, its output passed through, and keeps its last line (the
    JSON result) as `out_dir/name`."""
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, *cmd], stdout=subprocess.PIPE, text=True, check=True)
    sys.stdout.write(proc.stdout)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    write_atomic(os.path.join(out_dir, name), json.dumps(result, indent=1))
    return result


def run_commands(commands: dict, doc: str, argv=None) -> None:
    """An experiment made of commands: `{result file: command}`, run in order (`--only NAME` to run some) into
    experiments/results/ (or `--out`)."""
    import argparse
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("--only", choices=sorted(commands), action="append", help="run these (default: all)")
    p.add_argument("--out", default=os.path.join("experiments", "results"))
    args = p.parse_args(argv)
    for name in args.only or commands:
        run_and_keep(commands[name], args.out, name)


def run_scores(workdir: str) -> dict:
    """A finished training run in brief, from its results.json (best checkpoint), metrics.jsonl and config.json:
    steps, parameters, minutes from launch to the last row, and val / test BLEU [cased, lowercased], greedy and
    beam."""
    with open(os.path.join(workdir, "results.json")) as f:
        res = json.load(f)
    start = os.stat(os.path.join(workdir, "config.json")).st_mtime
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
        final = json.loads(f.read().strip().splitlines()[-1])
    out = {"step": res["step"], "best_step": res["best_step"], "parameters": res.get("parameters"),
           "minutes": round((final["time"] - start) / 60, 1)}
    for split in ("val", "test"):
        out[split] = {"greedy": [round(res[split]["bleu"], 2), round(res[split]["bleu_lc"], 2)],
                      "beam5": [round(res[split]["beam"]["bleu"], 2), round(res[split]["beam"]["bleu_lc"], 2)]}
    return out
