"""Sequence-level knowledge distillation (Kim & Rush 2016): the teacher translates the training set with beam search,
and a student trains on the teacher's translations in place of the references.

The distilled corpus is a folder of the student's run (`<workdir>/distilled`): the training source as the teacher read
it, the teacher's translations beside it, and the validation and test files copied unchanged, so the student is
chosen and scored against the real references. The student keeps the teacher's vocabulary. The corpus is written
once: the command run again reuses it and resumes the student's training.
"""

from __future__ import annotations

import json
import logging
import os
import time

from nmt.config import Config, ConfigError, with_overrides
from nmt.data import corpus, pipeline
from nmt.decode import BeamConfig
from nmt.run.load import load_run
from nmt.run.translation import translator_for
from nmt.training import trainer
from nmt.utils import copy_atomic, write_atomic

logger = logging.getLogger(__name__)
DONE = "distilled.json"  # written last: its presence says the corpus is whole


def student_config(teacher: Config, corpus_dir: str, overrides: list[str]) -> Config:
    """The teacher's configuration reading the distilled corpus, with the student's `section.field=value` changes."""
    base = teacher.replace(data={"corpus": "files", "dir": os.path.abspath(corpus_dir)}, parallel={"workers": 1})
    config = with_overrides(base, overrides)
    if (config.data.corpus, config.data.dir) != ("files", os.path.abspath(corpus_dir)):
        raise ConfigError("data.corpus and data.dir are the distilled corpus's; the student cannot change them")
    return config


def _copy_split(config: Config, prefix: str, corpus_dir: str) -> None:
    for path in pipeline.split_paths(config.data, prefix):
        copy_atomic(path, os.path.join(corpus_dir, os.path.basename(path)))


def distilled_corpus(run, corpus_dir: str, cfg: BeamConfig, slots: int | None = 64) -> dict:
    """Writes the distilled corpus of `run` (a loaded teacher) into `corpus_dir` unless it is whole there already;
    returns its description (teacher, step, search, sentences, seconds)."""
    done = os.path.join(corpus_dir, DONE)
    if os.path.exists(done):
        with open(done) as f:
            return json.load(f)
    data = run.config.data
    text = corpus.read_parallel(*pipeline.split_paths(data, data.train_prefix), invalid_utf8=data.invalid_utf8)
    logger.info(f"translating {len(text.src):,} training sentences with the teacher (beam {cfg.beam})")
    start = time.time()
    hyps = [t.text for t in translator_for(run, cfg, slots=slots).translate(text.src)]
    seconds = time.time() - start
    os.makedirs(corpus_dir, exist_ok=True)
    write_atomic(os.path.join(corpus_dir, f"{data.train_prefix}.{data.src_lang}"), "".join(s + "\n" for s in text.src))
    write_atomic(os.path.join(corpus_dir, f"{data.train_prefix}.{data.tgt_lang}"), "".join(h + "\n" for h in hyps))
    for prefix in (data.val_prefix, data.test_prefix):
        _copy_split(run.config, prefix, corpus_dir)
    info = {
        "teacher": os.path.abspath(run.workdir),
        "checkpoint": run.which,
        "step": run.step,
        "beam": cfg.beam,
        "alpha": cfg.alpha,
        "sentences": len(hyps),
        "empty": sum(not h for h in hyps),
        "seconds": round(seconds, 1),
    }
    write_atomic(done, json.dumps(info, indent=1))
    logger.info(f"distilled corpus: {len(hyps):,} sentences in {seconds:.0f} s ({info['empty']} empty, dropped)")
    return info


def distill(
    teacher_dir: str,
    workdir: str,
    overrides: list[str],
    cfg: BeamConfig = BeamConfig(beam=5),
    which: str = "best",
    slots: int | None = 64,
    progress: bool = True,
) -> dict:
    """Trains (or resumes) the student in `workdir` on the teacher's translations; returns the student's results
    (those of `trainer.run`) with the corpus's description under "distilled"."""
    teacher = load_run(teacher_dir, which)
    corpus_dir = os.path.join(workdir, "distilled")
    config = student_config(teacher.config, corpus_dir, overrides)
    info = distilled_corpus(teacher, corpus_dir, cfg, slots)
    del teacher
    vocab = os.path.join(workdir, "vocab.model")
    if not os.path.exists(vocab):  # the teacher's vocabulary: the student reads and writes the same pieces
        copy_atomic(os.path.join(teacher_dir, "vocab.model"), vocab)
    results = trainer.run(config, workdir, progress=progress)
    return {**results, "distilled": info}
