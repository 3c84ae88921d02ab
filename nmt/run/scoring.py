"""Scoring given text with a run's `Translator`: (source, target) pairs, and n-best lists in either format that
nmt.translate writes (`index<TAB>score<TAB>text`, Moses' `index ||| text ||| features ||| score`)."""

from __future__ import annotations

from nmt.data import DataError, corpus
from nmt.decode import Translator

MOSES = " ||| "


def read_lines(path: str, strip: bool = True) -> list[str]:
    """The lines of a text file (plain or gzipped); invalid UTF-8 is an error naming the file and line."""
    return corpus.read_lines(path, "error", strip)[0]


def score_lines(
    translator: Translator, sources: list[str], targets: list[str], where: str, normalize: bool, per_token: bool
) -> str:
    """One line a pair: the target's log-probability (per token with `normalize`), then (`per_token`) each token's,
    tab-separated."""
    if len(sources) != len(targets):
        raise DataError(f"{where}: {len(targets)} lines, but the sources have {len(sources)}")
    out = []
    for s in translator.score(sources, targets):
        line = f"{s.logp / len(s.token_logp) if normalize else s.logp:.4f}"
        if per_token:
            line += "\t" + " ".join(f"{x:.4f}" for x in s.token_logp)
        out.append(line + "\n")
    return "".join(out)


def _entry(line: str, where: str, count: int) -> tuple[int, str, list[str]]:
    """(source index, hypothesis, the fields to write back) of one n-best line."""
    if MOSES in line:
        fields = line.split(MOSES)
        if len(fields) != 4:
            raise DataError(f"{where}: expected 'index ||| text ||| features ||| score', got {len(fields)} fields")
        index, text = fields[0], fields[1]
    else:
        fields = line.split("\t")
        if len(fields) != 3:
            raise DataError(f"{where}: expected 'index<TAB>score<TAB>text' or Moses' format, got {line[:80]!r}")
        index, text = fields[0], fields[2]
    if not index.strip().isdigit() or int(index) >= count:
        raise DataError(f"{where}: index {index.strip()!r} names no line of the sources ({count})")
    return int(index), text, fields


def rescore_nbest(translator: Translator, sources: list[str], lines: list[str], path: str) -> str:
    """The n-best list with each score replaced by the model's (Moses' format: also added to the features as
    `nmt=`), in the same format and order."""
    entries = [_entry(line, f"{path}:{n}", len(sources)) for n, line in enumerate(lines, 1) if line]
    scores = translator.score([sources[i] for i, _, _ in entries], [text for _, text, _ in entries])
    out = []
    for (_, _, fields), s in zip(entries, scores):
        if len(fields) == 4:
            out.append(MOSES.join([fields[0], fields[1], f"{fields[2].rstrip()} nmt= {s.score:.4f}", f"{s.score:.4f}"]))
        else:
            out.append(f"{fields[0]}\t{s.score:.4f}\t{fields[2]}")
    return "".join(line + "\n" for line in out)
