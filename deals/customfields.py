"""Custom registration fields (issue 17 §1): the definitions administrators and managers write
(`field_create`, `field_update`, `field_deactivate`), the versioned form they publish
(`form_current`, `form_version`), and the rules every way in applies to the values: cleaning
(`clean_values`), required fields at submission (`required_errors`), auto-approve conditions
(`auto_approve_allows`), list filters (`filter_q`) and display (`display_values`).

Every change to the set publishes a new RegistrationFormVersion: a snapshot of the active
fields. Validation reads the snapshot in force (cached, prm.lib.hotcache), never the field
rows, so a registration is checked against exactly one version, and its values stay readable
with the labels of the version it was submitted with after the fields change. Deleting a field
deactivates it: stored values are never removed.

Values live in DealRegistration.custom ({key: value}, JSON types: text and choice as strings,
number as a JSON number, date as "YYYY-MM-DD", yes/no as a boolean, multi-choice as a list of
strings). Filters read it through the indexes each backend supports: on PostgreSQL a GIN
index (jsonb_path_ops, migration 0017) answers `custom @> {"key": value}`; SQLite reads the
JSON per row (bench/custom_fields measures PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import BooleanField, Q
from django.db.models.expressions import RawSQL

from deals.models import (
    CustomFieldType,
    ProductLine,
    RegistrationField,
    RegistrationFormVersion,
)
from deals.permissions import _require_manager
from partners.models import Tier
from prm.exceptions import NotFound, ValidationFailed
from prm.lib import hotcache
from prm.lib.validation import Errors, check_text

FIELD_TYPES = tuple(CustomFieldType.values)
CHOICE_TYPES = (CustomFieldType.CHOICE, CustomFieldType.MULTI_CHOICE)
AUTO_APPROVE_TYPES = (CustomFieldType.BOOLEAN, CustomFieldType.CHOICE)
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
TEXT_LIMIT = 1000
CHOICE_LIMIT = 200
MAX_CHOICES = 100
MAX_NUMBER = Decimal("1e15")
PREFIX = "custom."
FORM_KEY = "prm:registration-form-current"
BOOLEAN_TEXT = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


# --- The form in force --------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldDef:
    """One field as a form version defines it (the snapshot, not the row)."""

    key: str
    label: str
    type: str
    required: bool
    choices: tuple[str, ...]
    help: str
    order: int
    tier_ids: tuple[int, ...]
    tier_codes: tuple[str, ...]
    product_line_ids: tuple[int, ...]
    product_line_codes: tuple[str, ...]
    product_line_names: tuple[str, ...]
    auto_approve_values: tuple[Any, ...]

    @property
    def name(self) -> str:
        """The field's name in errors, filters and the portal form: `custom.<key>`."""
        return PREFIX + self.key

    def applies_to_tier(self, tier_id: int | None) -> bool:
        return not self.tier_ids or tier_id in self.tier_ids

    @property
    def always_required(self) -> bool:
        return self.required and not self.product_line_ids

    def required_for(self, product_line_ids) -> bool:
        """Required for a registration with these product lines: a field scoped to product
        lines is required only when the deal includes one of them."""
        if not self.required:
            return False
        return not self.product_line_ids or bool(set(self.product_line_ids) & set(product_line_ids))

    @classmethod
    def from_snapshot(cls, data: dict) -> FieldDef:
        return cls(
            key=str(data.get("key", "")),
            label=str(data.get("label", "")),
            type=str(data.get("type", "text")),
            required=bool(data.get("required")),
            choices=tuple(data.get("choices") or ()),
            help=str(data.get("help") or ""),
            order=int(data.get("order") or 0),
            tier_ids=tuple(data.get("tier_ids") or ()),
            tier_codes=tuple(data.get("tier_codes") or ()),
            product_line_ids=tuple(data.get("product_line_ids") or ()),
            product_line_codes=tuple(data.get("product_line_codes") or ()),
            product_line_names=tuple(data.get("product_line_names") or ()),
            auto_approve_values=tuple(data.get("auto_approve_values") or ()),
        )


@dataclass(frozen=True)
class Form:
    """A version of the custom-field set (version 0: nothing defined yet). `retired`: the
    fields deleted by then, whose stored values lists may still be filtered by."""

    version: int
    fields: tuple[FieldDef, ...]
    retired: tuple[FieldDef, ...] = ()

    def for_tier(self, tier_id: int | None) -> list[FieldDef]:
        return [f for f in self.fields if f.applies_to_tier(tier_id)]

    def get(self, key: str) -> FieldDef | None:
        return next((f for f in self.fields if f.key == key), None)


def _form_from(row: dict | None) -> Form:
    if not row:
        return Form(version=0, fields=())
    return Form(
        version=int(row["version"]),
        fields=tuple(FieldDef.from_snapshot(f) for f in row.get("fields") or ()),
        retired=tuple(FieldDef.from_snapshot(f) for f in row.get("retired") or ()),
    )


def _load_current() -> dict:
    row = (
        RegistrationFormVersion.objects.order_by("-version")
        .values("version", "fields", "retired")
        .first()
    )
    # Version 0 is cached too (a dict, never None), so a program without custom fields
    # costs no query per request.
    if row is None:
        return {"version": 0, "fields": [], "retired": []}
    return {"version": row["version"], "fields": row["fields"], "retired": row["retired"]}


def form_current() -> Form:
    """The custom-field form in force (cached; form_publish forgets it)."""
    return _form_from(hotcache.read(FORM_KEY, _load_current))


def form_version(version: int | None) -> Form:
    """The form of one published version (versions never change), else the one in force."""
    if not version:
        return form_current()
    current = form_current()
    if current.version == version:
        return current

    def load():
        return RegistrationFormVersion.objects.filter(version=version).values(
            "version", "fields", "retired"
        ).first() or {"version": version, "fields": []}

    return _form_from(hotcache.read(f"prm:registration-form:{int(version)}", load))


def fields_for_partner(partner) -> list[FieldDef]:
    """The fields in force that apply to `partner` (by tier)."""
    return form_current().for_tier(partner.tier_id if partner is not None else None)


def _snapshot(field: RegistrationField) -> dict:
    tiers = sorted(field.tiers.all(), key=lambda t: (t.rank, t.code))
    lines = sorted(field.product_lines.all(), key=lambda line: line.code)
    return {
        "key": field.key,
        "label": field.label,
        "type": field.type,
        "required": field.required,
        "choices": list(field.choices or []) if field.type in CHOICE_TYPES else [],
        "help": field.help,
        "order": field.order,
        "tier_ids": [t.pk for t in tiers],
        "tier_codes": [t.code for t in tiers],
        "product_line_ids": [line.pk for line in lines],
        "product_line_codes": [line.code for line in lines],
        "product_line_names": [line.name for line in lines],
        "auto_approve_values": list(field.auto_approve_values or []),
    }


def form_publish(*, actor, change_note: str = "") -> RegistrationFormVersion:
    """A new form version: the snapshot of every active field. Called by each field write, in
    its transaction."""
    rows = list(
        RegistrationField.objects.prefetch_related("tiers", "product_lines").order_by(
            "order", "key"
        )
    )
    last = RegistrationFormVersion.objects.order_by("-version").values_list("version", flat=True)
    version = (last.first() or 0) + 1
    row = RegistrationFormVersion.objects.create(
        version=version,
        fields=[_snapshot(f) for f in rows if f.active],
        retired=[_snapshot(f) for f in rows if not f.active],
        change_note=change_note[:300],
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    hotcache.forget([FORM_KEY])
    return row


# --- Writing the definitions (managers through the API, administrators in the admin) ------------


def _codes(errors: Errors, name: str, value, model) -> list:
    if value in (None, ""):
        return []
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        errors.add(name, "Send a list of codes.")
        return []
    codes = [v for v in value if len(v) <= 40 and "\x00" not in v]
    rows = list(model.objects.filter(code__in=codes))
    missing = sorted(set(value) - {r.code for r in rows})
    if missing:
        errors.add(name, f"Unknown: {', '.join(m[:40] for m in missing[:5])}.")
    return rows


def _clean_choices(errors: Errors, value) -> list[str]:
    if value in (None, ""):
        return []
    if not isinstance(value, list | tuple):
        errors.add("choices", "Send a list of choices.")
        return []
    cleaned: list[str] = []
    for item in value:
        text = check_text(errors, "choices", item, CHOICE_LIMIT, required=True)
        if "choices" in errors:
            return []
        if text in cleaned:
            errors.add("choices", f"“{text[:50]}” is listed twice.")
            return []
        cleaned.append(text)
    if len(cleaned) > MAX_CHOICES:
        errors.add("choices", f"At most {MAX_CHOICES} choices.")
    return cleaned


def clean_definition(data: dict, *, field: RegistrationField | None) -> tuple[dict, Errors]:
    """The definition's values (every key when creating, the given ones when updating),
    checked together: choices belong to choice types, auto-approve values to yes/no and choice
    fields and to the field's choices."""
    errors = Errors()
    allowed = {
        "key",
        "label",
        "type",
        "required",
        "choices",
        "help",
        "order",
        "tiers",
        "product_lines",
        "auto_approve_values",
    }
    if field is not None:
        allowed -= {"key", "type"}
    for name in sorted(set(data) - allowed):
        errors.add(str(name)[:100], "This field cannot be set.")
    cleaned: dict[str, Any] = {}
    if field is None:
        key = data.get("key")
        if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key):
            errors.add(
                "key", "Lower-case letters, digits and _, starting with a letter (at most 40)."
            )
        else:
            existing = RegistrationField.objects.filter(key=key).values_list("active", flat=True)
            if existing.exists():
                errors.add(
                    "key",
                    "A field with this key exists."
                    if existing.first()
                    else "A deleted field used this key (its values are kept); choose another.",
                )
            cleaned["key"] = key
        kind = data.get("type")
        if kind not in FIELD_TYPES:
            errors.add("type", f"Choose one of: {', '.join(FIELD_TYPES)}.")
        cleaned["type"] = kind
    else:
        kind = field.type
    if "label" in data or field is None:
        cleaned["label"] = check_text(errors, "label", data.get("label"), 100, required=True)
    if "required" in data:
        if not isinstance(data["required"], bool):
            errors.add("required", "Must be true or false.")
        cleaned["required"] = data["required"] is True
    if "help" in data:
        cleaned["help"] = check_text(errors, "help", data.get("help"), 300)
    if "order" in data:
        order = data["order"]
        if isinstance(order, bool) or not isinstance(order, int) or not 0 <= order <= 32767:
            errors.add("order", "A whole number from 0 to 32767.")
        else:
            cleaned["order"] = order
    if "tiers" in data:
        cleaned["tiers"] = _codes(errors, "tiers", data.get("tiers"), Tier)
    if "product_lines" in data:
        cleaned["product_lines"] = _codes(
            errors, "product_lines", data.get("product_lines"), ProductLine
        )
    choices = (
        _clean_choices(errors, data.get("choices"))
        if "choices" in data
        else list(field.choices or [])
        if field is not None
        else []
    )
    if kind in CHOICE_TYPES:
        if not choices and "choices" not in errors:
            errors.add("choices", "A choice field needs at least one choice.")
        cleaned["choices"] = choices
    elif choices:
        errors.add("choices", "Only choice and multi-choice fields have choices.")
    else:
        cleaned["choices"] = []
    approve = (
        data.get("auto_approve_values")
        if "auto_approve_values" in data
        else list(field.auto_approve_values or [])
        if field is not None
        else []
    )
    if approve in (None, ""):
        approve = []
    if not isinstance(approve, list | tuple):
        errors.add("auto_approve_values", "Send a list of values.")
    elif approve:
        if kind not in AUTO_APPROVE_TYPES:
            errors.add(
                "auto_approve_values", "Only yes/no and choice fields can condition auto-approval."
            )
        elif kind == CustomFieldType.BOOLEAN and not all(isinstance(v, bool) for v in approve):
            errors.add("auto_approve_values", "Values of a yes/no field are true or false.")
        elif kind == CustomFieldType.CHOICE and not all(
            isinstance(v, str) and v in choices for v in approve
        ):
            errors.add("auto_approve_values", "Each value must be one of the field's choices.")
        else:
            cleaned["auto_approve_values"] = list(dict.fromkeys(approve))
    elif "auto_approve_values" in data or field is None:
        cleaned["auto_approve_values"] = []
    return cleaned, errors


def _save(field: RegistrationField, cleaned: dict) -> None:
    for name, value in cleaned.items():
        if name not in ("tiers", "product_lines"):
            setattr(field, name, value)
    field.save()
    if "tiers" in cleaned:
        field.tiers.set(cleaned["tiers"])
    if "product_lines" in cleaned:
        field.product_lines.set(cleaned["product_lines"])


def field_create(*, actor, data: dict) -> RegistrationField:
    """A manager (API) or an administrator (admin) adds a field: a new form version."""
    _require_manager(actor)
    cleaned, errors = clean_definition(data, field=None)
    errors.raise_if_any()
    try:
        with transaction.atomic():
            field = RegistrationField()
            _save(field, cleaned)
            form_publish(actor=actor, change_note=f"Field added: {field.key}")
    except IntegrityError:
        raise ValidationFailed(
            "A field with this key exists.", fields={"key": ["A field with this key exists."]}
        ) from None
    return field


def field_get(key) -> RegistrationField:
    """An active field by key, else NotFound (a deleted field is gone for writes)."""
    if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key):
        raise NotFound()
    field = RegistrationField.objects.filter(key=key, active=True).first()
    if field is None:
        raise NotFound()
    return field


def field_update(*, actor, field: RegistrationField, data: dict) -> RegistrationField:
    """Change a field's definition (not its key or type): a new form version. Registrations
    keep the values and the version they were submitted with."""
    _require_manager(actor)
    cleaned, errors = clean_definition(data, field=field)
    errors.raise_if_any()
    with transaction.atomic():
        field = RegistrationField.objects.select_for_update().get(pk=field.pk)
        if not field.active:
            raise NotFound()
        _save(field, cleaned)
        form_publish(actor=actor, change_note=f"Field changed: {field.key}")
    return field


def field_deactivate(*, actor, field: RegistrationField) -> None:
    """Delete a field from the form: deactivated, never removed, so stored values and old
    form versions keep it. A new form version without it."""
    _require_manager(actor)
    with transaction.atomic():
        changed = RegistrationField.objects.filter(pk=field.pk, active=True).update(active=False)
        if changed != 1:
            raise NotFound()
        form_publish(actor=actor, change_note=f"Field deleted: {field.key}")


# --- Values -------------------------------------------------------------------------------------


def _missing(value) -> bool:
    return value is None or value == "" or value == []


def _number(errors: Errors, name: str, value):
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        errors.add(name, "Enter a number.")
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        errors.add(name, "Enter a number.")
        return None
    if not number.is_finite() or abs(number) >= MAX_NUMBER:
        errors.add(name, "Enter a number below 10¹⁵.")
        return None
    if number == number.to_integral_value():
        return int(number)
    return float(number)


def _clean_value(errors: Errors, field: FieldDef, value):
    name = field.name
    kind = field.type
    if kind == CustomFieldType.TEXT:
        text = check_text(errors, name, value, TEXT_LIMIT)
        return text or None
    if kind == CustomFieldType.NUMBER:
        return _number(errors, name, value)
    if kind == CustomFieldType.DATE:
        if isinstance(value, str) and len(value) == 10:
            try:
                return dt.date.fromisoformat(value).isoformat()
            except ValueError:
                pass
        errors.add(name, "Enter a date as YYYY-MM-DD.")
        return None
    if kind == CustomFieldType.BOOLEAN:
        if not isinstance(value, bool):
            errors.add(name, "Answer yes (true) or no (false).")
            return None
        return value
    if kind == CustomFieldType.CHOICE:
        if not isinstance(value, str) or value not in field.choices:
            errors.add(name, _choose(field))
            return None
        return value
    if kind == CustomFieldType.MULTI_CHOICE:
        if not isinstance(value, list | tuple) or not all(
            isinstance(v, str) and v in field.choices for v in value
        ):
            errors.add(name, _choose(field, many=True))
            return None
        picked = set(value)
        return [c for c in field.choices if c in picked] or None
    errors.add(name, "This field cannot be set.")
    return None


def _choose(field: FieldDef, *, many: bool = False) -> str:
    listed = ", ".join(field.choices[:20]) + (", …" if len(field.choices) > 20 else "")
    return f"Choose {'any' if many else 'one'} of: {listed}."


def clean_values(errors: Errors, raw, fields: list[FieldDef]) -> dict[str, Any]:
    """The custom values of an input, checked against `fields` (those that apply to the
    partner): {key: value}, a cleared value as None. Errors under `custom.<key>`: an unknown
    key, a wrong type, a value outside the choices."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        errors.add("custom", "Send an object of custom field values.")
        return {}
    by_key = {f.key: f for f in fields}
    cleaned: dict[str, Any] = {}
    unknown = 0
    for key, value in raw.items():
        field = by_key.get(key)
        if field is None:
            unknown += 1
            if unknown <= 20:
                errors.add(PREFIX + str(key)[:60], "Unknown field.")
            continue
        if _missing(value):
            cleaned[key] = None
            continue
        result = _clean_value(errors, field, value)
        if field.name not in errors:
            cleaned[key] = result
    return cleaned


def merge_values(stored: dict | None, cleaned: dict[str, Any]) -> dict[str, Any]:
    """`stored` with `cleaned` applied (None removes a key); keys of fields that no longer
    apply or were deleted are kept."""
    merged = dict(stored or {})
    for key, value in cleaned.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def required_errors(values: dict | None, fields: list[FieldDef], product_line_ids) -> Errors:
    """Missing required fields at submission (`custom.<key>`: "This field is required.")."""
    errors = Errors()
    values = values or {}
    for field in fields:
        if field.required_for(product_line_ids) and _missing(values.get(field.key)):
            errors.add(field.name, "This field is required.")
    return errors


def auto_approve_allows(values: dict | None, fields: list[FieldDef]) -> bool:
    """Whether the custom values meet every auto-approve condition of `fields` (e.g. "budget
    confirmed" must be yes). A field without a condition does not count."""
    values = values or {}
    for field in fields:
        if not field.auto_approve_values:
            continue
        value = values.get(field.key)
        if not any(type(value) is type(v) and value == v for v in field.auto_approve_values):
            return False
    return True


# --- Filters ------------------------------------------------------------------------------------


def filter_names(params) -> list[str]:
    return [name for name in params if isinstance(name, str) and name.startswith(PREFIX)]


def _filter_value(field: FieldDef, raw: str):
    """A query-string value as the stored JSON value, or ValidationFailed."""
    name = field.name
    errors = Errors()
    raw = raw.strip()
    value: Any = raw
    if field.type == CustomFieldType.BOOLEAN:
        if raw.lower() not in BOOLEAN_TEXT:
            errors.add(name, "Filter with true or false.")
        value = BOOLEAN_TEXT.get(raw.lower())
    elif field.type == CustomFieldType.NUMBER:
        try:
            value = _number(errors, name, Decimal(raw))
        except InvalidOperation:
            errors.add(name, "Filter with a number.")
    elif field.type == CustomFieldType.DATE:
        value = _clean_value(errors, field, raw)
    else:
        value = check_text(errors, name, raw, TEXT_LIMIT, required=True)
    errors.raise_if_any()
    return value


def filter_q(field: FieldDef, value) -> Q:
    """Registrations whose `field` holds `value` (a multi-choice field: includes it)."""
    if connection.vendor == "postgresql":
        # custom @> {"key": value}: answered by the GIN index (jsonb_path_ops).
        wanted = [value] if field.type == CustomFieldType.MULTI_CHOICE else value
        return Q(custom__contains={field.key: wanted})
    # SQLite has no JSON containment: read the value (or, for a multi-choice field, each
    # element of the stored list). The key is a checked slug (KEY_PATTERN), so the JSON path is
    # safe to spell out; json_extract answers 1/0 for true/false.
    path = f'$."{field.key}"'
    param = int(value) if isinstance(value, bool) else value
    if field.type == CustomFieldType.MULTI_CHOICE:
        sql = (
            'EXISTS (SELECT 1 FROM json_each("deals_dealregistration"."custom", %s) '
            "WHERE json_each.value = %s)"
        )
    else:
        sql = 'json_extract("deals_dealregistration"."custom", %s) = %s'
    return Q(RawSQL(sql, (path, param), output_field=BooleanField()))


def filter_registrations(queryset, params, fields: list[FieldDef]):
    """`?custom.<key>=<value>` filters over `fields` (those the caller may filter by). An
    unknown key or a value of the wrong type → ValidationFailed (400)."""
    by_key = {f.key: f for f in fields}
    wanted: list[tuple[FieldDef, Any]] = []
    for name in filter_names(params):
        raw = params.get(name)
        if raw in (None, ""):
            continue
        field = by_key.get(name[len(PREFIX) :])
        if field is None:
            raise ValidationFailed("Unknown custom field.", fields={name[:60]: ["Unknown field."]})
        wanted.append((field, _filter_value(field, str(raw))))
    if not wanted:
        return queryset
    if connection.vendor == "postgresql":
        # Several filters: one containment, one probe of the GIN index.
        return queryset.filter(
            custom__contains={
                field.key: [value] if field.type == CustomFieldType.MULTI_CHOICE else value
                for field, value in wanted
            }
        )
    for field, value in wanted:
        queryset = queryset.filter(filter_q(field, value))
    return queryset


def filterable_fields(*, manager: bool, tier_id: int | None) -> list[FieldDef]:
    """The fields a caller may filter by: managers every field ever defined (deleted ones
    too, from the form's `retired`), partners those of their tier. No query beyond the
    cached form."""
    current = form_current()
    fields = current.fields + current.retired
    return [f for f in fields if manager or f.applies_to_tier(tier_id)]


# --- Display ------------------------------------------------------------------------------------


def display_value(field_type: str, value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if field_type == CustomFieldType.DATE and isinstance(value, str):
        try:
            return dt.date.fromisoformat(value).strftime("%-d %b %Y")
        except ValueError:
            return value
    return str(value)


def display_values(registration) -> list[tuple[str, str]]:
    """(label, text) of a registration's custom values, labelled by the form version it was
    submitted with (a field changed or deleted since keeps its label there); values whose
    field that version does not know are labelled by the form in force, else by their key."""
    values = registration.custom or {}
    if not values:
        return []
    own = form_version(registration.form_version)
    current = form_current()
    shown = []
    ordered = [f for f in own.fields if f.key in values]
    ordered += [
        f for f in current.fields if f.key in values and f.key not in {g.key for g in ordered}
    ]
    for field in ordered:
        shown.append((field.label, display_value(field.type, values[field.key])))
    known = {f.key for f in ordered}
    for key in sorted(set(values) - known):
        shown.append((key.replace("_", " ").capitalize(), display_value("", values[key])))
    return shown
