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


PAUSE_S = 600  # a longer gap between a run's log rows is a wait before it was continued, not training


def rows_with_minutes(workdir: str) -> list[tuple[dict, float]]:
    """metrics.jsonl's rows, each with the minutes of training before it: from the launch (vocab.model's time, written
    at launch and kept by a copy), leaving out gaps of more than PAUSE_S between rows (a finished run continued)."""
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    out, seconds, last = [], 0.0, os.stat(os.path.join(workdir, "vocab.model")).st_mtime
    for r in rows:
        seconds += r["time"] - last if r["time"] - last < PAUSE_S else 0.0
        last = r["time"]
        out.append((r, seconds / 60))
    return out


def run_scores(workdir: str) -> dict:
    """A finished training run in brief, from its results.json (best checkpoint) and metrics.jsonl: steps,
    parameters, minutes of training (rows_with_minutes), and val / test BLEU [cased, lowercased], greedy and beam."""
    with open(os.path.join(workdir, "results.json")) as f:
        res = json.load(f)
    out = {
        "step": res["step"],
        "best_step": res["best_step"],
        "parameters": res.get("parameters"),
        "minutes": round(rows_with_minutes(workdir)[-1][1], 1),
    }
    for split in ("val", "test"):
        out[split] = {
            "greedy": [round(res[split]["bleu"], 2), round(res[split]["bleu_lc"], 2)],
            "beam5": [round(res[split]["beam"]["bleu"], 2), round(res[split]["beam"]["bleu_lc"], 2)],
        }
    return out
