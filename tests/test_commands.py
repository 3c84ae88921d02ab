"""What every command offers a user: configuration files, one name for a run directory, help and defaults on every
option, a version, the list of commands; scoring given text; evaluating any files; n-best lists in Moses' format."""

import importlib
import json
import os

import numpy as np

from nmt.config import from_dict, get_config, to_dict, to_yaml
from tests.helpers import one_line_error, run_cli

COMMANDS = {
    "train": "nmt.train",
    "translate": "nmt.translate",
    "evaluate": "nmt.evaluate",
    "score": "nmt.score",
    "release": "nmt.release",
    "compress": "nmt.compress.__main__",
    "distill": "nmt.distill",
    "config": "nmt.config.__main__",
    "bench": "nmt.bench",
    "memory": "nmt.memory",
}


def _options(parser):
    """Every option of a parser and of its subcommands' parsers."""
    for action in parser._actions:
        if action.option_strings and action.dest not in ("help", "version"):
            yield parser.prog, action
        for sub in getattr(action, "choices", None).values() if isinstance(action.choices, dict) else ():
            yield from _options(sub)


def test_every_option_of_every_command_says_what_it_does_and_its_default():
    for command, module in COMMANDS.items():
        parser = importlib.import_module(module).parser()
        assert parser.format_help().count("--version"), command
        for prog, action in _options(parser):
            assert action.help, f"{prog} {action.option_strings[0]} has no help"
            shown = parser._get_formatter()._get_help_string(action)  # the help text with what the formatter adds
            if action.default not in (None, False) and not isinstance(action.default, list):
                assert "default" in shown, f"{prog} {action.option_strings[0]} hides its default"


def test_the_package_lists_its_commands_and_every_command_its_version():
    r = run_cli("nmt", text=True)
    assert r.returncode == 0 and all(f"  {c} " in r.stdout for c in COMMANDS), r.stdout
    version = run_cli("nmt.translate", "--version", text=True)
    assert version.returncode == 0 and version.stdout.startswith("nmt ")


def test_a_printed_configuration_and_a_runs_config_json_read_back_as_configuration_files(tmp_path, tiny_run):
    config = get_config("tiny", ["model.hidden=48", "data.buckets=[8,16,24,48]", "train.lr=0.02"])
    (tmp_path / "c.yaml").write_text(to_yaml(config))
    assert get_config("reference", [], str(tmp_path / "c.yaml")) == config  # preset <- file
    assert get_config("reference", ["train.steps=7"], str(tmp_path / "c.yaml")).train.steps == 7  # <- overrides
    run_config = from_dict(json.load(open(os.path.join(tiny_run, "config.json"))))
    assert get_config("multi30k", [], os.path.join(tiny_run, "config.json")) == run_config
    (tmp_path / "part.yaml").write_text("train:\n  steps: 5\n")
    assert get_config("tiny", [], str(tmp_path / "part.yaml")) == get_config("tiny", ["train.steps=5"])
    (tmp_path / "bad.yaml").write_text("model:\n  hiden: 3\n")
    err = one_line_error(run_cli("nmt.config", "--config", str(tmp_path / "bad.yaml"), text=True))
    assert err.startswith(f"nmt.config: error: {tmp_path / 'bad.yaml'}: model.hiden:")
    printed = run_cli("nmt.config", "--config", str(tmp_path / "c.yaml"), text=True).stdout
    assert printed == to_yaml(config) and to_dict(config)["model"]["hidden"] == 48


def test_a_run_is_named_by_run_everywhere_and_the_old_names_still_work(tiny_run, corpus_dir, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("the cat sees a dog\na man eats\n")
    new = run_cli("nmt.translate", "--run", tiny_run, "--which", "latest", "--input", str(src), text=True)
    old = run_cli("nmt.translate", "--checkpoint", tiny_run, "--which", "latest", "--input", str(src), text=True)
    assert new.returncode == 0 and new.stdout == old.stdout and len(new.stdout.splitlines()) == 2
    for command in ("nmt.translate", "nmt.evaluate", "nmt.release", "nmt.bench"):
        args = ["decode", "--help"] if command == "nmt.bench" else ["--help"]
        text = run_cli(command, *args, text=True).stdout
        assert "--run RUN_DIR, --checkpoint RUN_DIR" in text and "old name" in text, command
    assert "--run RUN_DIR, --workdir RUN_DIR" in run_cli("nmt.train", "--help", text=True).stdout


def test_score_gives_the_searchs_own_scores_and_token_log_probabilities(tiny_run, tmp_path):
    src = tmp_path / "src.txt"
    src.write_text("the cat sees a dog\na man eats a green apple\nred car\n")
    nbest = run_cli(
        "nmt.translate",
        "--run",
        tiny_run,
        "--input",
        str(src),
        "--beam",
        "3",
        "--nbest",
        "3",
        "--alpha",
        "0.8",
        text=True,
    )
    assert nbest.returncode == 0, nbest.stderr
    (tmp_path / "nbest.txt").write_text(nbest.stdout)
    rescored = run_cli(
        "nmt.score",
        "--run",
        tiny_run,
        "--src",
        str(src),
        "--nbest",
        str(tmp_path / "nbest.txt"),
        "--alpha",
        "0.8",
        text=True,
    )
    assert rescored.returncode == 0, rescored.stderr
    searched = [line.split("\t") for line in nbest.stdout.splitlines()]
    again = [line.split("\t") for line in rescored.stdout.splitlines()]
    assert [(i, t) for i, _, t in again] == [(i, t) for i, _, t in searched]
    np.testing.assert_allclose([float(s) for _, s, _ in again], [float(s) for _, s, _ in searched], atol=2e-4)
    best = tmp_path / "best.txt"  # the 1-best of each line as targets: per token, and normalised
    best.write_text("".join(t + "\n" for i, _, t in searched[::3]))
    per_token = run_cli("nmt.score", "--run", tiny_run, "--src", str(src), "--tgt", str(best), "--per-token", text=True)
    normalised = run_cli(
        "nmt.score", "--run", tiny_run, "--src", str(src), "--tgt", str(best), "--normalize", text=True
    )
    for line, norm in zip(per_token.stdout.splitlines(), normalised.stdout.splitlines()):
        total, tokens = line.split("\t")
        values = [float(x) for x in tokens.split()]
        assert abs(sum(values) - float(total)) < 5e-4 and abs(float(total) / len(values) - float(norm)) < 5e-4


def test_the_translators_scores_are_score_outputs(tiny_run):
    import jax.numpy as jnp

    from nmt.data.vocab import EOS
    from nmt.decode import BeamConfig
    from nmt.decode.scoring import score_outputs
    from nmt.run import load_run
    from nmt.run.translation import translator_for

    run = load_run(tiny_run)
    cfg = BeamConfig(beam=3, alpha=0.6, beta=0.2)
    scored = translator_for(run, cfg).score(["the cat sees a dog"], ["eht tac"])[0]
    src, tgt = run.sp.encode(["the cat sees a dog", "eht tac"])
    ref = score_outputs(run.model, run.params, jnp.asarray([src + [EOS]]), jnp.asarray([tgt + [EOS]]), cfg)
    assert abs(scored.score - float(ref["score"][0])) < 1e-5 and abs(scored.logp - float(ref["logp"][0])) < 1e-5
    assert len(scored.token_logp) == len(tgt) + 1


def test_evaluate_scores_any_files_keeps_its_hypotheses_and_decodes_greedily_when_asked(tiny_run, corpus_dir, tmp_path):
    out = tmp_path / "hyp.txt"
    r = run_cli(
        "nmt.evaluate",
        "--run",
        tiny_run,
        "--src",
        os.path.join(corpus_dir, "test.src"),
        "--ref",
        os.path.join(corpus_dir, "test.tgt"),
        "--beam",
        "3",
        "--output",
        str(out),
        text=True,
    )
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert "beam3" in res and "greedy" not in res and res["sentences"] == 30
    assert len(out.read_text().splitlines()) == 30
    both = json.loads(
        run_cli(
            "nmt.evaluate",
            "--run",
            tiny_run,
            "--split",
            "test",
            "--greedy",
            "--beam",
            "3",
            corpus=corpus_dir,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    assert both["beam3"]["bleu"] == res["beam3"]["bleu"] and "greedy" in both
    err = one_line_error(run_cli("nmt.evaluate", "--run", tiny_run, "--src", str(out), text=True))
    assert err == "nmt.evaluate: error: --src and --ref go together"


def test_nbest_lists_in_moses_format_and_batches_in_tokens(tiny_run, tmp_path):
    src = tmp_path / "src.txt"
    src.write_text("the cat sees a dog\na man eats\n")
    tab = run_cli("nmt.translate", "--run", tiny_run, "--input", str(src), "--nbest", "2", "--beam", "3", text=True)
    moses = run_cli(
        "nmt.translate",
        "--run",
        tiny_run,
        "--input",
        str(src),
        "--nbest",
        "2",
        "--beam",
        "3",
        "--nbest-format",
        "moses",
        text=True,
    )
    for t, m in zip(tab.stdout.splitlines(), moses.stdout.splitlines()):
        index, score, text = t.split("\t")
        assert m == f"{index} ||| {text} ||| F0= {score} ||| {score}"
    rescored = run_cli(
        "nmt.score", "--run", tiny_run, "--src", str(src), "--nbest", "/dev/stdin", stdin=moses.stdout.encode()
    )
    assert rescored.returncode == 0 and rescored.stdout.decode().count(" ||| ") == 3 * 4
    fixed = run_cli(
        "nmt.translate", "--run", tiny_run, "--input", str(src), "--slots", "0", "--batch-tokens", "16", text=True
    )
    plain = run_cli("nmt.translate", "--run", tiny_run, "--input", str(src), text=True)
    assert fixed.returncode == 0 and fixed.stdout == plain.stdout
