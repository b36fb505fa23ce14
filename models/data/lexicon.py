"""The language prior's data: word lists with frequencies for en, ko, ja and zh, and the reader's charset.

The lists are cut from PyPI ``wordfreq`` 3.1.1 (its data is CC BY-SA 4.0) and shipped under
``models/data/lexicon/`` so that nothing downloads at run time and the server does not need
wordfreq. Rebuild them (wordfreq installed, e.g. ``pip install wordfreq==3.1.1``) with

    python -m models.data.lexicon

Each file holds one ``word<TAB>zipf`` per line, most frequent first (zipf = log10 of the
frequency per billion words). wordfreq writes digits as 0, so words with digits are left out:
numbers are drawn by the line generator and read without a word prior.
"""
import gzip
import math
from functools import lru_cache
from pathlib import Path

LEXICON_DIR = Path(__file__).resolve().parent / "lexicon"
LANGS = ("en", "ko", "ja", "zh")
WORDS_PER_LANG = {"en": 60_000, "ko": 30_000, "ja": 40_000, "zh": 40_000}
CHARSET_WORDS = 10_000  # the reader's CJK characters: those of each language's 10 000 most frequent words


def _keep(word, lang):
    if any(ch.isdigit() or ch.isspace() for ch in word):
        return False
    if lang == "en":
        return all(ch.isascii() and (ch.isalpha() or ch in "'-") for ch in word)
    return all(not ch.isascii() for ch in word)  # CJK lists also hold Latin loan words: en covers those


def build(out_dir=LEXICON_DIR):
    """Write the shipped word lists from wordfreq (a build-time dependency only)."""
    from wordfreq import get_frequency_dict

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for lang in LANGS:
        frequencies = get_frequency_dict(lang, wordlist="best")
        words = [w for w in sorted(frequencies, key=frequencies.get, reverse=True) if _keep(w, lang)]
        rows = [f"{w}\t{math.log10(frequencies[w] * 1e9):.2f}\n" for w in words[:WORDS_PER_LANG[lang]]]
        with gzip.open(out_dir / f"{lang}.tsv.gz", "wt", encoding="utf-8", compresslevel=9) as handle:
            handle.writelines(rows)
        print(f"{lang}: {len(rows)} words", flush=True)


@lru_cache(maxsize=None)
def load_lexicon(lang, directory=LEXICON_DIR):
    """((word, zipf), ...) most frequent first."""
    path = Path(directory) / f"{lang}.tsv.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        rows = [line.rstrip("\n").split("\t") for line in handle]
    return tuple((word, float(zipf)) for word, zipf in rows)


def reader_characters(directory=LEXICON_DIR):
    """The CJK characters the reader knows beyond ASCII, in a stable order (first seen in ko, ja, zh
    frequency order), so that a longer list only appends."""
    seen, chars = set(), []
    for lang in ("ko", "ja", "zh"):
        for word, _ in load_lexicon(lang, directory)[:CHARSET_WORDS]:
            for ch in word:
                if ch not in seen:
                    seen.add(ch)
                    chars.append(ch)
    return "".join(chars)


if __name__ == "__main__":
    build()
