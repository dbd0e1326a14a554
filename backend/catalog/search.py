"""Catalog search the way people type in Chinese apps.

A query may be Chinese characters (公积金), full pinyin (gongjijin), pinyin initials
(gjj), English words (provident fund) or a mix separated by spaces; every term must
match somewhere and the best-matching fields rank first. The index precomputes the
pinyin of every service once (pypinyin is slow on first use), so a query is plain
string work over a few hundred entries: microseconds, not milliseconds.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from pypinyin import Style, lazy_pinyin

_CJK = re.compile(r"[\u3400-\u9fff]")
_SPLIT = re.compile(r"[\s,，、/|;；]+")


def normalize(text: str) -> str:
    """Full-width to half-width, lower case, no inner spaces: how we compare text."""
    return unicodedata.normalize("NFKC", text).lower().replace(" ", "")


def pinyin_forms(text: str) -> tuple[str, str]:
    """(full pinyin, initials) of the Chinese in ``text``; other characters pass through."""
    # Non-Chinese runs split into characters, so "ETC办理" gives initials "etcbl".
    keep_chars: Any = list
    syllables = lazy_pinyin(text, style=Style.NORMAL, errors=keep_chars)
    syllables = [normalize(s) for s in syllables if s.strip()]
    return "".join(syllables), "".join(s[0] for s in syllables if s)


@dataclass(frozen=True)
class SearchDocument:
    """The searchable text of one service, precomputed."""

    key: str
    name_zh: str
    name_pinyin: str
    name_initials: str
    name_en_words: tuple[str, ...]
    keywords: tuple[str, ...]
    keywords_pinyin: tuple[str, ...]
    keywords_initials: tuple[str, ...]
    summary_zh: str
    summary_en: str
    context_zh: str  # domain and department names
    context_en: str
    # Every searchable field joined: a term absent from it cannot score, which lets most
    # documents be rejected with one substring test.
    haystack: str

    @classmethod
    def build(
        cls,
        key: str,
        *,
        name_zh: str,
        name_en: str,
        summary_zh: str,
        summary_en: str,
        keywords: list[str],
        context_zh: str,
        context_en: str,
    ) -> SearchDocument:
        name_pinyin, name_initials = pinyin_forms(name_zh)
        kw_forms = [pinyin_forms(k) for k in keywords]
        haystack = "|".join(
            [
                normalize(name_zh),
                name_pinyin,
                name_initials,
                name_en.lower(),
                *(normalize(k) for k in keywords),
                *(f for pair in kw_forms for f in pair),
                normalize(summary_zh),
                summary_en.lower(),
                normalize(context_zh),
                context_en.lower(),
            ]
        )
        return cls(
            key=key,
            name_zh=normalize(name_zh),
            name_pinyin=name_pinyin,
            name_initials=name_initials,
            name_en_words=tuple(w for w in re.split(r"[^a-z0-9]+", name_en.lower()) if w),
            keywords=tuple(normalize(k) for k in keywords),
            keywords_pinyin=tuple(f[0] for f in kw_forms),
            keywords_initials=tuple(f[1] for f in kw_forms),
            summary_zh=normalize(summary_zh),
            summary_en=summary_en.lower(),
            context_zh=normalize(context_zh),
            context_en=context_en.lower(),
            haystack=haystack,
        )

    def score_term(self, term: str) -> float:
        """How well one normalized term matches this document; 0 means no match."""
        cjk = _CJK.search(term) is not None
        if term not in self.haystack and not (cjk and len(term) >= 3):
            return 0.0  # only the loose bigram match can score a CJK term found nowhere whole
        if cjk:
            return max(
                _text_score(term, self.name_zh, 100),
                max((_text_score(term, k, 60) for k in self.keywords), default=0.0),
                30.0 if term in self.context_zh else 0.0,
                20.0 if term in self.summary_zh else 0.0,
                _bigram_score(term, self.name_zh + "|" + "|".join(self.keywords), 40),
            )
        return max(
            _text_score(term, self.name_pinyin, 90),
            _text_score(term, self.name_initials, 85) if len(term) >= 2 else 0.0,
            max((_text_score(term, k, 55) for k in self.keywords_pinyin), default=0.0),
            max((_text_score(term, k, 50) for k in self.keywords_initials), default=0.0)
            if len(term) >= 2
            else 0.0,
            max((_text_score(term, k, 55) for k in self.keywords), default=0.0),
            max((_word_score(term, w, 80) for w in self.name_en_words), default=0.0),
            25.0 if len(term) >= 3 and term in self.context_en else 0.0,
            15.0 if len(term) >= 3 and term in self.summary_en else 0.0,
        )


def _text_score(term: str, text: str, weight: float) -> float:
    """Exact beats prefix beats substring; shorter texts win ties (more specific)."""
    if not text or term not in text:
        return 0.0
    if text == term:
        return weight
    closeness = len(term) / len(text)  # in (0, 1)
    if text.startswith(term):
        return weight * (0.8 + 0.15 * closeness)
    return weight * (0.6 + 0.15 * closeness)


def _bigram_score(term: str, text: str, weight: float) -> float:
    """Loose match for phrases typed in another order (公积金提取 ~ 租房提取住房公积金)."""
    if len(term) < 3:
        return 0.0
    bigrams = {term[i : i + 2] for i in range(len(term) - 1)}
    coverage = sum(1 for b in bigrams if b in text) / len(bigrams)
    return weight * coverage if coverage >= 0.6 else 0.0


def _word_score(term: str, word: str, weight: float) -> float:
    if word == term:
        return weight
    if word.startswith(term) and len(term) >= 2:
        return weight * 0.8
    return 0.0


class SearchIndex:
    def __init__(self, documents: list[SearchDocument]) -> None:
        self._documents = documents

    def search(self, query: str) -> list[tuple[str, float]]:
        """Keys of matching documents, best first, with their scores."""
        terms = [normalize(t) for t in _SPLIT.split(query) if t.strip()]
        terms = [t for t in terms if t]
        if not terms:
            return []
        scored: list[tuple[str, float, int]] = []
        for order, doc in enumerate(self._documents):
            total = 0.0
            for term in terms:
                score = doc.score_term(term)
                if score == 0.0:
                    break
                total += score
            else:
                scored.append((doc.key, total, order))
        # Stable: equal scores keep the catalog's own order.
        scored.sort(key=lambda item: (-item[1], item[2]))
        return [(key, score) for key, score, _ in scored]
