"""What the search words mean, the same on both databases.

The syntax is PostgreSQL's ``websearch_to_tsquery``: words must all occur (in any of
their Dutch word forms), ``OR`` between words gives alternatives (binding looser than
the implicit AND: ``a b OR c`` is "a and b, or c"), ``-word`` leaves out what contains
the word, and ``"two words"`` must occur as a phrase. PostgreSQL parses ``q`` itself;
for SQLite, and for the typo-tolerant second search on both, :func:`parse` gives the
same structure, from which the engine's expression is written. Only word characters
ever reach an expression, each quoted: user input cannot form query syntax.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

import snowballstemmer

MAX_TERMS = 12
# Words shorter than this are not corrected (too many neighbours at edit distance 1).
MIN_TYPO_LENGTH = 4

_TOKEN = re.compile(r'"(?P<phrase>[^"]*)"?|(?P<neg>(?<![\w-])-)?(?P<word>\w+)', re.UNICODE)
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Clause:
    """Words (and phrases) that must all occur, and words that must not."""

    words: tuple[str, ...] = ()
    phrases: tuple[tuple[str, ...], ...] = ()
    excluded: tuple[str, ...] = ()

    @property
    def positive(self) -> bool:
        return bool(self.words or self.phrases)


@dataclass
class _Builder:
    words: list[str] = field(default_factory=list)
    phrases: list[tuple[str, ...]] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)

    def clause(self) -> Clause | None:
        if not (self.words or self.phrases or self.excluded):
            return None
        return Clause(tuple(self.words), tuple(self.phrases), tuple(self.excluded))


def parse(q: str) -> tuple[Clause, ...]:
    """The clauses of ``q`` (any one of them must match), lower-cased, at most
    :data:`MAX_TERMS` words in all."""
    clauses: list[Clause] = []
    current = _Builder()
    budget = MAX_TERMS
    for match in _TOKEN.finditer(q):
        if budget <= 0:
            break
        phrase, word = match.group("phrase"), match.group("word")
        if phrase is not None:
            words = tuple(w.lower() for w in _WORD.findall(phrase))[:budget]
            budget -= len(words)
            if len(words) == 1:
                current.words.append(words[0])
            elif words:
                current.phrases.append(words)
            continue
        budget -= 1
        lowered = word.lower()
        if lowered == "or" and not match.group("neg"):
            done = current.clause()
            if done is not None:
                clauses.append(done)
                current = _Builder()
            continue
        (current.excluded if match.group("neg") else current.words).append(lowered)
    done = current.clause()
    if done is not None:
        clauses.append(done)
    return tuple(clauses)


def positive_words(clauses: Iterable[Clause]) -> list[str]:
    """The words a typo correction may be looked for, each once."""
    seen: dict[str, None] = {}
    for clause in clauses:
        for word in clause.words:
            if len(word) >= MIN_TYPO_LENGTH and not word.isdigit():
                seen[word] = None
    return list(seen)


@lru_cache(maxsize=4096)
def dutch_stem(word: str) -> str:
    """The Snowball Dutch stem, as PostgreSQL's ``dutch`` configuration makes it (the
    same algorithm, ``dutch_porter`` in Snowball 3)."""
    stem: str = _stemmer().stemWord(word)
    return stem or word


@lru_cache(maxsize=1)
def _stemmer() -> snowballstemmer.stemmer:
    return snowballstemmer.stemmer("dutch_porter")


Corrections = Mapping[str, list[str]]


def fts5_expression(clauses: Iterable[Clause], corrections: Corrections | None = None) -> str:
    """An FTS5 MATCH expression: each word as the prefix of its Dutch stem (so every
    form that starts with the stem matches: ``netwerken`` finds "GGI-Netwerk"), or of one
    of its corrections; phrases as FTS5 phrases; clauses without a required word are left
    out (FTS5 has no "everything except"). Empty when nothing can match."""
    parts = []
    for clause in clauses:
        if not clause.positive:
            continue
        atoms = [_fts5_word(w, (corrections or {}).get(w, [])) for w in clause.words]
        atoms += ['"' + " ".join(p) + '"' for p in clause.phrases]
        expression = "(" + " AND ".join(atoms) + ")"
        for word in clause.excluded:
            expression = f'({expression} NOT "{dutch_stem(word)}"*)'
        parts.append(expression)
    if not parts:
        return ""
    return "{name body} : (" + " OR ".join(parts) + ")"


def _fts5_word(word: str, corrections: list[str]) -> str:
    alternatives = [f'"{dutch_stem(word)}"*', *(f'"{c}"*' for c in corrections)]
    return alternatives[0] if len(alternatives) == 1 else "(" + " OR ".join(alternatives) + ")"


def tsquery_text(clauses: Iterable[Clause], corrections: Corrections) -> str:
    """``to_tsquery`` text of the clauses with each word's corrections as alternatives
    (PostgreSQL's second, typo-tolerant search; the words are stemmed by the ``dutch``
    configuration there)."""
    parts = []
    for clause in clauses:
        atoms = []
        for word in clause.words:
            options = [word, *corrections.get(word, [])]
            atoms.append("(" + " | ".join(f"'{o}'" for o in options) + ")")
        atoms += ["(" + " <-> ".join(f"'{w}'" for w in p) + ")" for p in clause.phrases]
        atoms += [f"!'{w}'" for w in clause.excluded]
        parts.append("(" + " & ".join(atoms) + ")")
    return " | ".join(parts)


def within_edits(a: str, b: str, limit: int) -> int | None:
    """The edit distance (Levenshtein) of ``a`` and ``b`` when it is at most ``limit``,
    else None; gives up as soon as a row of the table exceeds the limit."""
    if abs(len(a) - len(b)) > limit:
        return None
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > limit:
            return None
        previous = current
    return previous[-1] if previous[-1] <= limit else None


def typo_limit(word: str) -> int:
    """Edits a correction of ``word`` may be away: one for short words, two for longer."""
    return 1 if len(word) <= 5 else 2
