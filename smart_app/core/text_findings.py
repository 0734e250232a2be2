"""Findings in free text (report conclusions, notes, procedure text), with negation, spine levels and side.

A phrase counts only when it is not negated in its own clause: a negation cue ("no", "without", "negative for", …)
up to six words before it, or a cue right after it ("… is not seen"). A clause ends at `.`, `;`, a line break, or
"but"/"however"/"although"/"except"; so "No fracture. Bilateral L5 pars defects" finds a pars defect and no fracture,
and "No fracture, tumor or infection" negates all three. Levels and side are read from the same clause, else from
the same sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from smart_app.core.model import InvalidRequest, canonical_joint, canonical_vertebra_level
from smart_app.core.text_cache import DigestCache, text_digest
from smart_app.core.vocabulary import (
    CLAUSE_BREAK,
    NEGATION_AFTER,
    NEGATION_BEFORE,
    PSEUDO_NEGATION,
    FindingRule,
)

_NEGATION_WINDOW_WORDS = 6
_SENTENCE_BREAK = re.compile(r"[.;!?]+(?=\s|$)|\n+")
_NOT_MRI_WEIGHTING = r"(?!\s*-?\s*(?:weighted|W\b|signal|hyper|hypo|images?|sequences?|FLAIR))"
_JOINT_RE = re.compile(
    r"\b([CTL])\s?(\d{1,2})\s*(?:-|/|–|to)\s*([CTLS]?)\s?(\d{1,2})\b" + _NOT_MRI_WEIGHTING, re.IGNORECASE
)
_VERTEBRA_RE = re.compile(r"\b([CTLS])\s?(\d{1,2})\b" + _NOT_MRI_WEIGHTING, re.IGNORECASE)
_SLIP_RE = re.compile(r"\b([CTL]\s?\d{1,2})\s+on\s+([CTLS]\s?\d{1,2})\b", re.IGNORECASE)
_SIDE_WORDS = (
    ("bilateral", re.compile(r"\bbilateral(?:ly)?\b|\bboth\s+sides\b|\bB/L\b", re.IGNORECASE)),
    ("left", re.compile(r"\bleft\b|\bLT\b", re.IGNORECASE)),
    ("right", re.compile(r"\bright\b|\bRT\b", re.IGNORECASE)),
)
_REGION_WORDS = (
    ("cervical", re.compile(r"\bcervical\b|\bneck\b", re.IGNORECASE)),
    ("thoracic", re.compile(r"\bthoracic\b", re.IGNORECASE)),
    ("lumbar", re.compile(r"\blumbar\b|\blumbosacral\b|\blow\s+back\b", re.IGNORECASE)),
)
_GRADE_RE = re.compile(r"\bgrade\s+(I{1,3}V?|IV|[1-5])\b", re.IGNORECASE)
_ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5}


@dataclass(frozen=True)
class Mention:
    """One phrase found in a clause."""

    name: str
    negated: bool
    joints: tuple[str, ...]
    vertebrae: tuple[str, ...]
    side: str | None
    snippet: str
    grade: int | None = None


# The mentions of one (text, phrases, context), kept by digest: the same reports and notes are read at every launch
# and check of a patient. A few hundred bytes an entry; 4,096 entries hold a few dozen records' texts.
MENTIONS: DigestCache[tuple[Mention, ...]] = DigestCache(4096)


@lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def sentences(text: str) -> list[str]:
    return [part.strip() for part in _SENTENCE_BREAK.split(text) if part and part.strip()]


def clauses(sentence: str) -> list[str]:
    return [part.strip() for part in CLAUSE_BREAK.split(sentence) if part and part.strip()]


def is_negated(clause: str, start: int, end: int) -> bool:
    """True when a negation cue governs the phrase at clause[start:end]."""
    before = PSEUDO_NEGATION.sub(" ", clause[:start])
    for cue in NEGATION_BEFORE.finditer(before):
        words_between = len(before[cue.end() :].split())
        if words_between <= _NEGATION_WINDOW_WORDS:
            return True
    return bool(NEGATION_AFTER.match(clause[end:]))


def spine_levels(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(facet joints, vertebrae) named in the text, canonical and ordered; odd spellings are skipped."""
    joints: list[str] = []
    spans: list[tuple[int, int]] = []
    for match in _JOINT_RE.finditer(text):
        upper = f"{match.group(1)}{match.group(2)}"
        lower = f"{match.group(3) or match.group(1)}{match.group(4)}"
        try:
            joint = canonical_joint(f"{upper}-{lower}")
        except InvalidRequest:
            continue
        spans.append(match.span())
        if joint not in joints:
            joints.append(joint)
    vertebrae: list[str] = []
    for match in _VERTEBRA_RE.finditer(text):
        inside_joint = any(start <= match.start() < end for start, end in spans)
        try:
            name = canonical_vertebra_level(f"{match.group(1)}{match.group(2)}")
        except InvalidRequest:
            continue
        if not inside_joint and name not in vertebrae:
            vertebrae.append(name)
    for match in _SLIP_RE.finditer(text):  # "L5 on S1": the slipping vertebra is the upper one
        try:
            name = canonical_vertebra_level(match.group(1).replace(" ", ""))
        except InvalidRequest:
            continue
        if name not in vertebrae:
            vertebrae.append(name)
    return tuple(joints), tuple(vertebrae)


def side_of(text: str) -> str | None:
    found = [side for side, pattern in _SIDE_WORDS if pattern.search(text)]
    if "bilateral" in found or ("left" in found and "right" in found):
        return "bilateral"
    return found[0] if found else None


def regions_named(text: str) -> tuple[str, ...]:
    return tuple(region for region, pattern in _REGION_WORDS if pattern.search(text))


def slip_grade(text: str) -> int | None:
    match = _GRADE_RE.search(text)
    if not match:
        return None
    value = match.group(1).upper()
    return int(value) if value.isdigit() else _ROMAN.get(value)


def find_mentions(text: str, name: str, phrases: tuple[str, ...], context: str | None = None) -> list[Mention]:
    """Every clause of `text` where one of `phrases` occurs (and `context` occurs in the same sentence)."""
    digest = text_digest(text, name, context, *phrases)
    return list(MENTIONS.get_or_compute(digest, lambda: tuple(_find_mentions(text, name, phrases, context))))


def _find_mentions(text: str, name: str, phrases: tuple[str, ...], context: str | None) -> list[Mention]:
    found: list[Mention] = []
    for sentence in sentences(text):
        if context and not compile_pattern(context).search(sentence):
            continue
        sentence_joints, sentence_vertebrae = spine_levels(sentence)
        for clause in clauses(sentence):
            match = _first_match(clause, phrases)
            if match is None:
                continue
            joints, vertebrae = spine_levels(clause)
            if not joints and not vertebrae:
                joints, vertebrae = sentence_joints, sentence_vertebrae
            found.append(
                Mention(
                    name=name,
                    negated=is_negated(clause, match.start(), match.end()),
                    joints=joints,
                    vertebrae=vertebrae,
                    side=side_of(clause) or side_of(sentence),
                    snippet=clause[:200],
                    grade=slip_grade(clause),
                )
            )
    return found


def find_findings(text: str, rules: tuple[FindingRule, ...]) -> list[Mention]:
    mentions: list[Mention] = []
    for rule in rules:
        mentions.extend(find_mentions(text, rule.finding, rule.phrases, rule.context))
    return mentions


def affirmed(text: str, phrases: tuple[str, ...]) -> list[str]:
    """Clauses where one of the phrases occurs un-negated (for note topics)."""
    return [mention.snippet for mention in find_mentions(text, "", phrases) if not mention.negated]


def first_phrase(text: str, table: tuple[tuple[str, str], ...]) -> str | None:
    """The name of the first (name, pattern) row whose pattern occurs in the text."""
    for name, pattern in table:
        if compile_pattern(pattern).search(text):
            return name
    return None


def _first_match(clause: str, phrases: tuple[str, ...]) -> re.Match[str] | None:
    best: re.Match[str] | None = None
    for phrase in phrases:
        match = compile_pattern(phrase).search(clause)
        if match and (best is None or match.start() < best.start()):
            best = match
    return best
