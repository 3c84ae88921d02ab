"""Finding (or downloading) a corpus's files: configured dir, then $NMT_DATA_DIR, then the user cache."""

from __future__ import annotations

import os
import shutil
import urllib.request

from nmt.data.corpus import DataError
from nmt.utils import atomic_open

MULTI30K_URL = "https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/raw/{name}"
MULTI30K_SPLITS = ("train", "val", "test_2016_flickr")
MULTI30K_LANGS = ("en", "de", "fr")


def cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "nmt")


def search_dirs(configured: str | None, corpus: str) -> list[str]:
    dirs = [configured, os.environ.get("NMT_DATA_DIR"), os.path.join(cache_dir(), corpus)]
    return [os.path.abspath(os.path.expanduser(d)) for d in dirs if d]


def _find(name: str, dirs: list[str]) -> str | None:
    for d in dirs:
        for candidate in (os.path.join(d, name), os.path.join(d, name + ".gz")):
            if os.path.exists(candidate):
                return candidate
    return None


def _download(url: str, dest: str) -> None:
    with atomic_open(dest) as out, urllib.request.urlopen(url, timeout=30) as resp:
        shutil.copyfileobj(resp, out)


def locate(prefix: str, lang: str, corpus: str, configured: str | None) -> str:
    """Returns the path of `<prefix>.<lang>` (plain or .gz), downloading Multi30k into the cache if needed.

    Raises:
      DataError saying where it looked and how to point at a local copy.
    """
    name = f"{prefix}.{lang}"
    dirs = search_dirs(configured, corpus)
    found = _find(name, dirs)
    if found:
        return found
    hint = "set data.dir=DIR or NMT_DATA_DIR=DIR to a folder holding the files"
    if corpus != "multi30k" or prefix not in MULTI30K_SPLITS or lang not in MULTI30K_LANGS:
        raise DataError(f"{name}: not found in {', '.join(dirs)}; {hint}")
    dest = os.path.join(cache_dir(), corpus, name + ".gz")
    url = MULTI30K_URL.format(name=name + ".gz")
    try:
        _download(url, dest)
    except OSError as e:
        raise DataError(f"{name}: not found in {', '.join(dirs)}, and downloading {url} failed ({e}); {hint}") from None
    return dest
