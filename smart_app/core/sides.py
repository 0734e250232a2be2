"""Side semantics, in one place, for every criterion that looks at earlier procedures (issue 9, part 1).

- A request names `left`, `right` or `bilateral`; a bilateral request is two sides, each of which must meet the
  requirement on its own.
- An earlier procedure counts only for the sides it treated: a bilateral one covers both, a left one the left.
- A procedure recorded without a side is *unknown* for side: it may have been on the requested side, so it can
  keep a criterion `unknown`, but it never makes one `met`.
"""

from __future__ import annotations

from collections.abc import Iterable

LEFT, RIGHT, BILATERAL = "left", "right", "bilateral"
_SIDES_OF = {LEFT: (LEFT,), RIGHT: (RIGHT,), BILATERAL: (RIGHT, LEFT)}  # right first, as clinicians write it


def sides_of(side: str | None) -> tuple[str, ...]:
    """The single sides a request or procedure side stands for (`bilateral` → right, left; None → none)."""
    return _SIDES_OF.get(side or "", ())


def treated_side(procedure_side: str | None, side: str) -> bool | None:
    """Did a procedure recorded with `procedure_side` treat `side` (left or right)? None when its side is unknown."""
    if procedure_side is None:
        return None
    return side in sides_of(procedure_side)


def treated_any(procedure_side: str | None, request_side: str) -> bool | None:
    """Did it treat at least one side of the request? None when its side is unknown."""
    answers = [treated_side(procedure_side, side) for side in sides_of(request_side)]
    if any(answer is True for answer in answers):
        return True
    return None if any(answer is None for answer in answers) else False


def side_of_sides(sides: Iterable[str]) -> str:
    """`{left, right}` → `bilateral`, `{left}` → `left`; the request side the single sides make up."""
    found = set(sides)
    if {LEFT, RIGHT} <= found:
        return BILATERAL
    if found == {LEFT}:
        return LEFT
    if found == {RIGHT}:
        return RIGHT
    raise ValueError(f"no side in {sorted(found)}")


def where(side: str, levels: Iterable[str]) -> str:
    """`right L4-L5, L5-S1`: a side and its levels, as the details and next steps say them."""
    joined = ", ".join(levels)
    return f"{side} {joined}" if joined else side
