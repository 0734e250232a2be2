"""The check request as the web receives it (query string, form post or JSON body), validated field by field.

Every page and API endpoint that runs a check reads its request here, so a link, a form, the back button and the
API all mean the same thing. A field that cannot be used gets its own plain-words message (shown next to the
field, or as an OperationOutcome issue with that field as `expression`); the clinical rules about the request
(intent required for facet procedures, technique for RFA only, level spellings) stay in `core.model`, whose
one-line messages are attached to the field they name.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import urlencode

from werkzeug.datastructures import MultiDict

from smart_app.core.model import (
    GUIDANCES,
    INTENTS,
    PROCEDURES,
    SEDATIONS,
    SETTINGS,
    SIDES,
    TECHNIQUES,
    CheckRequest,
    InvalidRequest,
    parse_levels,
)

# The request fields in the order the form shows them (also the query-string names).
FIELDS: tuple[str, ...] = (
    "procedure",
    "intent",
    "levels",
    "side",
    "guidance",
    "sedation",
    "technique",
    "setting",
    "payer",
    "as_of",
)
DEFAULTS: dict[str, str] = {"guidance": "fluoroscopy", "sedation": "none", "setting": "physician"}
CHOICES: dict[str, tuple[str, ...]] = {
    "procedure": PROCEDURES,
    "intent": INTENTS,
    "side": SIDES,
    "guidance": GUIDANCES,
    "sedation": SEDATIONS,
    "technique": TECHNIQUES,
    "setting": SETTINGS,
}
# Checkbox shortcuts for the levels most requests name (free text accepts every level).
COMMON_FACET_LEVELS: tuple[str, ...] = ("C3-C4", "C4-C5", "C5-C6", "L3-L4", "L4-L5", "L5-S1")
COMMON_PARS_LEVELS: tuple[str, ...] = ("L4", "L5")
MAX_FIELD_LENGTH = 200
FORM_ERROR = "_form"  # the key of an error that belongs to no single field

_FLAG = re.compile(r"--([a-z][a-z-]*)")


@dataclass(frozen=True)
class CheckForm:
    """One request as entered (`values`, for showing the form again) and, when valid, as a `CheckRequest`.

    `payer` left empty means "from the record's Coverage, else Medicare" (`payer_from_record`); `as_of` left empty
    means today. `errors` maps a field name (or `FORM_ERROR`) to a message.
    """

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    request: CheckRequest | None = None
    as_of: date | None = None

    @property
    def valid(self) -> bool:
        return not self.errors and self.request is not None

    @property
    def payer_from_record(self) -> bool:
        return not self.values.get("payer")

    @property
    def level_list(self) -> list[str]:
        return [item.strip() for item in self.values.get("levels", "").split(",") if item.strip()]

    def query_items(self) -> list[tuple[str, str]]:
        """The request as query pairs (empty fields left out), in form order."""
        return [(name, self.values[name]) for name in FIELDS if self.values.get(name)]

    def query(self, **extra: str) -> str:
        """The request as a query string, e.g. for the shareable checklist URL or the report download."""
        return urlencode([*self.query_items(), *extra.items()])

    def key(self) -> str:
        """A stable key of the validated request (canonical levels, the payer as asked, the date): attestations
        belong to one request, since a criterion's meaning can depend on the levels, side and pathway."""
        if self.request is None or self.as_of is None:
            raise ValueError("an invalid request has no key")
        canonical = {**self.request.to_json(), "payer": self.values.get("payer", ""), "as_of": self.as_of.isoformat()}
        text = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def values_from_multidict(data: MultiDict[str, str]) -> dict[str, Any]:
    """Query or form fields → raw values; the `levels` text and the `level` checkboxes are combined."""
    raw: dict[str, Any] = {name: data.get(name, "") for name in FIELDS if name != "levels"}
    raw["levels"] = [data.get("levels", ""), *data.getlist("level")]
    return raw


def has_request(data: MultiDict[str, str]) -> bool:
    """True when the query names at least a procedure (a link carrying a request, or a submitted form)."""
    return bool(data.get("procedure"))


def read_check_form(raw: Mapping[str, Any], *, today: date, payers: Collection[str]) -> CheckForm:
    """Validate one request. `raw` holds strings (a list, or a comma-separated string, for `levels`)."""
    values, errors = _clean_values(raw)
    for name, choices in CHOICES.items():
        value = values.get(name, "")
        if value and value not in choices and name not in errors:
            errors[name] = f"Choose one of: {', '.join(choices)}."
    if not values.get("procedure") and "procedure" not in errors:
        errors["procedure"] = "Choose the procedure."
    if not values.get("side") and "side" not in errors:
        errors["side"] = "Choose the side: left, right or bilateral."
    payer = values["payer"] = values.get("payer", "").lower()
    if payer and payer not in payers:
        errors["payer"] = f"Unknown payer {payer!r}. Choose one of: {', '.join(sorted(payers))}."
    as_of = _read_date(values, today, errors)
    _check_levels(values, errors)
    if errors:
        return CheckForm(values, errors)
    try:
        request = CheckRequest.build(
            procedure=values["procedure"],
            intent=values.get("intent") or None,
            levels=values["levels"],
            side=values["side"],
            guidance=values["guidance"],
            sedation=values["sedation"],
            technique=values.get("technique") or None,
            setting=values["setting"],
            payer=payer or "medicare",
        )
    except InvalidRequest as error:
        name, message = attribute_message(str(error))
        return CheckForm(values, {name: message})
    values["levels"] = ",".join(request.levels)  # show the canonical spelling back
    return CheckForm(values, {}, request, as_of)


def blank_form(today: date) -> CheckForm:
    """The form before any request: defaults only, planned for today."""
    values, _ = _clean_values({})
    values["as_of"] = today.isoformat()
    return CheckForm(values)


def attribute_message(message: str) -> tuple[str, str]:
    """Which field a `core.model` message is about (it names the CLI flag, `--intent`), and the message in the
    web's words (`intent` instead of `--intent`)."""
    match = _FLAG.search(message)
    name = match.group(1).replace("-", "_") if match else FORM_ERROR
    if name not in FIELDS:
        name = FORM_ERROR
    text = _FLAG.sub(lambda found: found.group(1).replace("-", " "), message)
    return name, text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _clean_values(raw: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    for name in FIELDS:
        item = raw.get(name)
        if name == "levels":
            text = _join_levels(item)
        elif item is None:
            text = ""
        elif isinstance(item, str):
            text = item.strip()
        else:
            errors[name] = "Give this field as text."
            text = ""
        if len(text) > MAX_FIELD_LENGTH:
            errors[name] = f"Too long (at most {MAX_FIELD_LENGTH} characters)."
            text = text[:MAX_FIELD_LENGTH]
        values[name] = text
    for name in ("procedure", "intent", "side", "guidance", "sedation", "technique", "setting"):
        values[name] = values[name].lower()
    for name, default in DEFAULTS.items():
        values[name] = values[name] or default
    return values, errors


def _join_levels(item: Any) -> str:
    """Levels from a list (checkboxes plus free text, or JSON) or one comma-separated string, de-duplicated."""
    parts: Iterable[Any] = item if isinstance(item, list | tuple) else [item or ""]
    levels: list[str] = []
    for part in parts:
        for level in str(part).split(","):
            level = level.strip()
            if level and level.upper() not in (known.upper() for known in levels):
                levels.append(level)
    return ",".join(levels)


def _check_levels(values: dict[str, str], errors: dict[str, str]) -> None:
    if "levels" in errors:
        return
    if not values.get("levels"):
        errors["levels"] = "Give at least one level, e.g. L4-L5 (facet) or L5 (pars)."
        return
    procedure = values.get("procedure", "")
    if procedure not in PROCEDURES:
        return  # the procedure's own message says what to fix; levels are read once it is known
    try:
        parse_levels(values["levels"], procedure)
    except InvalidRequest as error:
        if procedure == "pars-injection":
            hint = "Give the vertebra whose pars is injected, such as L5."
        else:
            hint = "Give two adjacent vertebrae such as L4-L5; L4-5 and L5/S1 are accepted."
        errors["levels"] = f"{str(error)[:1].upper()}{str(error)[1:]}. {hint}"


def _read_date(values: dict[str, str], today: date, errors: dict[str, str]) -> date | None:
    text = values.get("as_of", "")
    if not text:
        values["as_of"] = today.isoformat()  # the shareable URL then pins the date the check was made for
        return today
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors["as_of"] = f"Give the planned date as YYYY-MM-DD; got {text!r}."
        return None
