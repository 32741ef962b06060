"""Form state for the pages: the values a person typed (kept on every error), messages
per field (from the API's ``invalidParams``), and the form instance's id, which is the
Idempotency-Key of its submission (a double submit never creates twice)."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field

from starlette.requests import Request

from ..api import ApiProblem
from ..sessions.schemas import PendingForm
from .i18n import Translator
from .templating import format_date, session_of

# Pydantic's messages, as the APIs pass them on, mapped to catalogue keys.
REASONS = [
    (re.compile(r"\burl\b", re.I), "error.url"),
    # An uploaded CSV file's problems (the registry's CSV imports).
    (re.compile(r"unknown municipality", re.I), "error.unknown_municipality"),
    (re.compile(r"missing column|column missing", re.I), "error.missing_column"),
    (re.compile(r"not utf-8", re.I), "error.not_utf8"),
    (re.compile(r"malformed csv|nul characters", re.I), "error.not_csv"),
    (re.compile(r"no header row", re.I), "error.no_header"),
    (re.compile(r"no data rows", re.I), "error.no_rows"),
    (re.compile(r"more than \d+ rows", re.I), "error.too_many_rows"),
    (re.compile(r"amount in euro like", re.I), "error.csv_amount"),
    (re.compile(r"metric", re.I), "error.cvss_vector"),
    # The services' own rules, in their words.
    (re.compile(r"lies in the past", re.I), "error.in_past"),
    (re.compile(r"must be in the future", re.I), "error.not_in_future"),
    (re.compile(r"^after today$", re.I), "error.after_today"),
    (
        re.compile(r"before (?P<start>[\d-]+) \(a year before the tender's creation\)", re.I),
        "error.before_tender",
    ),
    (re.compile(r"in the future: record it on or after that day", re.I), "error.merger_ahead"),
    (re.compile(r"^before startDate$", re.I), "error.before_start"),
    (re.compile(r"^before releaseDate$", re.I), "error.before_release"),
    (re.compile(r"before the enrollment window closes", re.I), "error.start_before_close"),
    (re.compile(r"not after opensAt", re.I), "error.closes_before_opens"),
    (re.compile(r"exceeds the tender's estimatedValue", re.I), "error.over_tender_value"),
    (re.compile(r"lot values add up to", re.I), "error.lots_over_tender"),
    (re.compile(r"only for co-fund", re.I), "error.amount_only_co_fund"),
    (re.compile(r"for co-fund", re.I), "error.amount_for_co_fund"),
    (re.compile(r"unknown facility", re.I), "error.unknown_facility"),
    # What the services say in their own words (a test walks their source for these).
    (re.compile(r"offering of another facility", re.I), "error.offering_other_facility"),
    (re.compile(r"^unknown column$", re.I), "error.unknown_column"),
    (re.compile(r"column appears twice", re.I), "error.column_twice"),
    (re.compile(r"cells where the header has", re.I), "error.cell_count"),
    (re.compile(r"facility is retired", re.I), "error.facility_retired"),
    (re.compile(r"not a lot of this tender", re.I), "error.not_tender_lot"),
    (re.compile(r"needs at least one lot", re.I), "error.lot_needed"),
    (re.compile(r"required for lots beyond", re.I), "error.mandate_beyond"),
    (re.compile(r"longer than (?P<n>\d+) years", re.I), "error.max_years"),
    (re.compile(r"not a date duration", re.I), "error.duration"),
    (re.compile(r"after 9999-12-31", re.I), "error.beyond_calendar"),
    (re.compile(r"after 0001-01-01", re.I), "error.min_date"),
    (re.compile(r"listed twice \(row (?P<row>\d+)\)", re.I), "error.listed_twice"),
    (re.compile(r"listed twice", re.I), "error.twice"),
    (re.compile(r"^unknown offering$", re.I), "error.unknown_offering"),
    (re.compile(r"unknown version of this offering", re.I), "error.unknown_version"),
    (re.compile(r"the successor itself", re.I), "error.successor_itself"),
    (re.compile(r"not a municipality", re.I), "error.not_municipality"),
    (re.compile(r"ended by a merger", re.I), "error.ended_by_merger"),
    (re.compile(r"unknown organisation|not a known ", re.I), "error.unknown_organisation"),
    (re.compile(r"unknown supplier", re.I), "error.unknown_supplier"),
    (re.compile(r"unknown merger", re.I), "error.unknown_merger"),
    (re.compile(r"not a central purchasing body", re.I), "error.not_central_purchasing"),
    (re.compile(r"required for an? ", re.I), "error.required_for_kind"),
    (re.compile(r"not allowed for an? ", re.I), "error.not_for_kind"),
    (re.compile(r"only cooperations have members", re.I), "error.only_cooperations"),
    (re.compile(r"required with versionId", re.I), "error.offering_with_version"),
    (re.compile(r"same as sourceOfferingId", re.I), "error.same_offering"),
    (re.compile(r"^null$", re.I), "error.required"),
    (re.compile(r"not the vector's score \((?P<n>[\d.]+)\)", re.I), "error.vector_score"),
    (re.compile(r"internal address", re.I), "error.internal_address"),
    (re.compile(r"https required", re.I), "error.url"),
    (re.compile(r"no more than (?P<n>\d+) decimal places?", re.I), "error.max_decimals"),
    (re.compile(r"unknown scopes?", re.I), "error.unknown_scope"),
    (re.compile(r"jwks|private_key_jwt", re.I), "error.client_keys"),
    (re.compile(r"must authenticate", re.I), "error.must_authenticate"),
    (re.compile(r"client_credentials client|authorization.code", re.I), "error.grant_mismatch"),
    (re.compile(r"at least one redirect URI", re.I), "error.redirect_needed"),
    (re.compile(r"must include openid", re.I), "error.openid_scope"),
    (re.compile(r"organisation claims come from", re.I), "error.org_claims"),
    (re.compile(r"orgId and orgType go together", re.I), "error.org_pair"),
    (re.compile(r"requires a registered legal basis", re.I), "error.legal_basis"),
    (re.compile(r"is needed with userinfoEncryptedResponseEnc", re.I), "error.userinfo_alg"),
    (re.compile(r"cannot be changed", re.I), "error.unchangeable"),
    # A 409's field: what is already there.
    (re.compile(r"^taken$", re.I), "error.taken"),
    (re.compile(r"^already (registered|recorded)$", re.I), "error.already_recorded"),
    (re.compile(r"an active usage exists", re.I), "error.active_usage"),
    (
        re.compile(r"outside the joint contract: from (?P<start>[\d-]+) to (?P<end>[\d-]+)", re.I),
        "error.outside_contract",
    ),
    (re.compile(r"should be True", re.I), "error.must_tick"),
    (re.compile(r"no more than (?P<n>\d+) digits", re.I), "error.max_digits"),
    (re.compile(r"should be (?P<values>'[^']*'(?:, '[^']*')* or '[^']*')", re.I), "error.one_of"),
    (re.compile(r"field required|^required$|missing", re.I), "error.required"),
    (re.compile(r"valid date|date format|iso 8601", re.I), "error.date"),
    (
        re.compile(r"valid integer|valid number|valid decimal|json number|json integer", re.I),
        "error.number",
    ),
    # An empty list: none of a group of choices was chosen.
    (re.compile(r"at least 1 item", re.I), "error.choose_one"),
    (re.compile(r"at least 1 character", re.I), "error.required"),
    # Limits keep their number (``n``), so the person knows what will do.
    (re.compile(r"at least (?P<n>\d+) characters", re.I), "error.min_chars"),
    (re.compile(r"at most (?P<n>\d+) characters?", re.I), "error.max_chars"),
    (re.compile(r"greater than or equal to (?P<n>-?[\d.]+)", re.I), "error.min_value"),
    (re.compile(r"greater than (?P<n>-?[\d.]+)", re.I), "error.above"),
    (re.compile(r"less than or equal to (?P<n>-?[\d.]+)", re.I), "error.max_value"),
    (re.compile(r"less than (?P<n>-?[\d.]+)", re.I), "error.below"),
    (re.compile(r"at least|too short|min_length", re.I), "error.too_short"),
    (re.compile(r"at most|too long|max_length", re.I), "error.too_long"),
    (re.compile(r"greater than|less than", re.I), "error.range"),
    (re.compile(r"pattern|match", re.I), "error.format"),
    (re.compile(r"one of|enum|permitted", re.I), "error.choice"),
]
FORM_ID_FIELD = "form_id"
PENDING_SECONDS = 1800


def human_reason(t: Translator, reason: str) -> str:
    for pattern, key in REASONS:
        if found := pattern.search(reason):
            return t(key, **_said(t, found.groupdict()))
    return t("error.invalid_with", reason=reason) if reason else t("error.invalid")


def _said(t: Translator, values: dict[str, str]) -> dict[str, str]:
    """A message's values as the language writes them: numbers, dates, choices."""
    said = dict(values)
    if "n" in said:
        n = said["n"].removesuffix(".0")
        said["n"] = n.replace(".", ",") if t.lang == "nl" else n
    for name in ("start", "end"):
        if name in said:
            said[name] = format_date(said[name], t.lang)
    if "values" in said:
        said["values"] = ", ".join(re.findall(r"'([^']*)'", said["values"]))
    return said


@dataclass
class Form:
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)
    form_id: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    # Each field's label, recorded by the templates as they render the fields, so that
    # the error summary above them can name the field of each message.
    labels: dict[str, str] = field(default_factory=dict)

    def value(self, name: str, default: str = "") -> str:
        return self.values.get(name, default)

    @property
    def idempotency_key(self) -> str:
        return self.values.get(FORM_ID_FIELD) or self.form_id

    @classmethod
    def submitted(cls, fields: dict[str, str]) -> Form:
        """A form as posted; it keeps its id until an error shows it again."""
        form = cls(values=dict(fields))
        form.form_id = fields.get(FORM_ID_FIELD) or form.form_id
        return form

    def failed(self) -> Form:
        """Shown again after an error: same values, a fresh id (nothing was created)."""
        self.form_id = secrets.token_urlsafe(18)
        self.values[FORM_ID_FIELD] = self.form_id
        return self

    def apply_problem(
        self, t: Translator, problem: ApiProblem, fields: dict[str, str] | None = None
    ) -> Form:
        """The API's messages next to their fields. ``fields`` maps API parameter names
        to this form's field names where they differ; unknown names become general
        messages that still say which value was wrong."""
        for name, reason in problem.invalid_params.items():
            target = (fields or {}).get(name, name)
            field_name = re.split(r"[.\[]", name, maxsplit=1)[0]
            if target not in self.values and field_name in self.values:
                # ``cvssVector.none``, ``standards[0]``: a part of the field, or one member
                # of an optional field's type, names the field itself.
                target = field_name
            message = human_reason(t, reason)
            if target in self.values or (fields and name in fields):
                self.errors.setdefault(target, message)
            else:
                self.general.append(f"{name}: {message}")
        if not problem.invalid_params:
            self.general.append(problem_message(t, problem))
        return self.failed()


def problem_message(t: Translator, problem: ApiProblem) -> str:
    """The problem for a person. The APIs' ``detail`` is English and names the specifics
    (which municipality, which version): in English it is the message; in another
    language a known problem type (the last part of its ``type`` URI) is said in that
    language first, with the API's words after it in brackets."""
    key = f"problem.{problem.status}"
    text = t(key) if t.has(key) else t("problem.other")
    kind = f"problem_type.{str(problem.body.get('type', '')).rsplit('/', 1)[-1]}"
    if not t.has(kind) or (t.lang == "en" and problem.detail):
        return f"{text} {problem.detail}".strip()
    if problem.detail and t.lang != "en":
        return f"{text} {t(kind)} ({problem.detail})"
    return f"{text} {t(kind)}"


def keep_pending(request: Request, fields: dict[str, str]) -> None:
    """Store a filled-in form in the session before a step-up (without its token)."""
    session = session_of(request)
    kept = {k: v for k, v in fields.items() if k not in ("csrf", FORM_ID_FIELD)}
    session.data.forms[request.url.path] = PendingForm(
        path=request.url.path, fields=kept, created_at=time.time()
    )
    session.changed()


def take_pending(request: Request) -> Form | None:
    """The form this person filled in before the step-up, once (None when there is none)."""
    session = session_of(request)
    pending = session.data.forms.pop(request.url.path, None)
    if pending is None:
        return None
    session.changed()
    if time.time() - pending.created_at > PENDING_SECONDS:
        return None
    return Form(values=dict(pending.fields)).failed()


# API answers whose problems belong next to the form's fields (others go to the error pages).
FORM_ERRORS = (400, 409, 422)
STALE, REFUSED = "stale", "refused"


async def submit_change(
    t: Translator, form: Form, change: Awaitable[object], fields: dict[str, str] | None = None
) -> str | None:
    """Send a conditional change (If-Match): None when it went through; STALE when someone
    changed the resource meanwhile (the form says so; the page then shows their version
    beside this person's input); REFUSED when the API refused the input (its problems are
    next to the fields, ``fields`` as in :meth:`Form.apply_problem`)."""
    try:
        await change
    except ApiProblem as problem:
        if problem.status in (412, 428):
            form.general.append(t("problem.412"))
            form.failed()
            return STALE
        if problem.status not in FORM_ERRORS:
            raise
        form.apply_problem(t, problem, fields)
        return REFUSED
    return None
