"""A run's lexical shortlist lexicon (`lexicon.npz` in its directory), trained on its training corpus on first use."""

from __future__ import annotations

import logging
import os

from nmt.data import load_data
from nmt.decode.shortlist import Lexicon, load_lexicon, save_lexicon, train_lexicon
from nmt.run.errors import RunError

logger = logging.getLogger(__name__)

LEXICON_FILE = "lexicon.npz"


def lexicon_for_run(run) -> Lexicon:
    """The lexicon of a `LoadedRun`, trained from its training corpus and saved in its directory on first use."""
    path = os.path.join(run.workdir, LEXICON_FILE)
    if not os.path.isfile(path):
        logger.info(f"training the shortlist lexicon (IBM Model 1) on the run's training corpus -> {path}")
        data = load_data(run.config.data, vocab_path=os.path.join(run.workdir, "vocab.model"))
        ex = data.train.examples
        save_lexicon(train_lexicon(ex.src, ex.tgt, data.sp.vocab_size()), path)
    try:
        lex = load_lexicon(path)
    except Exception as e:  # noqa: BLE001 - any unreadable file is one user-facing error
        raise RunError(
            f"{path}: unreadable lexicon ({str(e).splitlines()[0][:200]}); delete it to retrain it"
        ) from None
    if lex.table.ndim != 2 or lex.table.shape[0] != run.sp.vocab_size():
        raise RunError(
            f"{path}: a lexicon for {lex.table.shape[0]} tokens, not this run's vocabulary of "
            f"{run.sp.vocab_size()}; delete it to retrain it"
        )
    return lex
