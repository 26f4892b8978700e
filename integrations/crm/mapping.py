"""CRM record -> direct-opportunity data, through the connection's editable field map.

Each target field reads one CRM field (`source`), translates its value through `value_map`
when the value is listed there, and falls back to `default` when empty. A few targets get a
shape fix the CRMs need: a website URL becomes its host, a datetime becomes a date, a country
name becomes its ISO code, a multi-select becomes a list of product codes. What comes out is
validated by deals' own `opportunity_clean`, so a record that cannot be stored becomes a
failed record with the reasons, not a half-written opportunity."""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

import pycountry

from deals.opportunities.services import opportunity_clean
from integrations.crm.clients import CrmRecord
from integrations.crm.models import CrmConnection, CrmFieldMap, Vendor

DEFAULTS: dict[str, list[tuple[str, str, dict, str]]] = {
    # (target, source, value_map, default)
    Vendor.SALESFORCE: [
        ("external_id", "Id", {}, ""),
        ("account_name", "Account.Name", {}, ""),
        ("account_domain", "Account.Website", {}, ""),
        ("country", "Account.BillingCountryCode", {}, ""),
        ("owner_email", "Owner.Email", {}, ""),
        ("products", "", {}, ""),
        ("amount", "Amount", {}, "0"),
        ("currency", "CurrencyIsoCode", {}, "USD"),
        ("stage", "StageName", {}, ""),
        ("close_date", "CloseDate", {}, ""),
        ("status", "StageName", {"Closed Won": "won", "Closed Lost": "lost"}, "open"),
    ],
    Vendor.HUBSPOT: [
        ("external_id", "id", {}, ""),
        ("account_name", "dealname", {}, ""),
        ("account_domain", "domain", {}, ""),
        ("country", "country", {}, ""),
        ("owner_email", "owner_email", {}, ""),
        ("products", "", {}, ""),
        ("amount", "amount", {}, "0"),
        ("currency", "deal_currency_code", {}, "USD"),
        ("stage", "dealstage", {}, ""),
        ("close_date", "closedate", {}, ""),
        ("status", "dealstage", {"closedwon": "won", "closedlost": "lost"}, "open"),
    ],
}


def mapping_defaults_create(connection: CrmConnection) -> None:
    """The vendor's standard field map (only targets not mapped yet)."""
    have = set(connection.fields.values_list("target", flat=True))
    CrmFieldMap.objects.bulk_create(
        [
            CrmFieldMap(
                connection=connection, target=target, source=source, value_map=vmap, default=d
            )
            for target, source, vmap, d in DEFAULTS[connection.vendor]
            if target not in have
        ]
    )


def source_fields(field_maps: Iterable[CrmFieldMap]) -> list[str]:
    return sorted({f.source for f in field_maps if f.source})


def _translate(value: Any, field_map: CrmFieldMap) -> Any:
    if isinstance(value, str | int | bool) and str(value) in (field_map.value_map or {}):
        return field_map.value_map[str(value)]
    return value


def _domain(value: str) -> str:
    text = value.strip()
    if "://" not in text:
        text = "//" + text
    host = (urlsplit(text).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def _country(value: str) -> str:
    text = value.strip()
    if len(text) == 2:
        return text.upper()
    try:
        return pycountry.countries.lookup(text).alpha_2
    except LookupError:
        return text  # opportunity_clean says it is not a country


def _shape(target: str, value: Any, field_map: CrmFieldMap) -> Any:
    if target == "products":
        items = value if isinstance(value, list) else re.split(r"[;,]", str(value))
        return [str(_translate(item.strip(), field_map)) for item in items if str(item).strip()]
    value = _translate(value, field_map)
    if target == "account_domain":
        return _domain(str(value))
    if target == "country":
        return _country(str(value))
    if target == "close_date":
        return str(value)[:10]
    if target == "amount":
        try:
            return str(Decimal(str(value)).quantize(Decimal("0.01")))
        except InvalidOperation:
            return str(value)
    return value if isinstance(value, str) else str(value)


def record_map(
    record: CrmRecord,
    field_maps: Iterable[CrmFieldMap],
    *,
    id_prefix: str = "",
    catalogue: dict | None = None,
) -> tuple[dict, dict]:
    """(opportunity data for deals' services, errors by field: empty when it will store). The external id is the CRM id (with the
    connection's prefix) unless the map says otherwise."""
    data: dict[str, Any] = {}
    for field_map in field_maps:
        raw = record.data.get(field_map.source) if field_map.source else None
        if field_map.target == "status":
            # A stage the map does not list is the default (open), not an error.
            data["status"] = str(
                (field_map.value_map or {}).get(str(raw), field_map.default or "open")
            )
            continue
        if raw in (None, "", []):
            if not field_map.default:
                continue
            raw = field_map.default
        data[field_map.target] = _shape(field_map.target, raw, field_map)
    data["external_id"] = id_prefix + str(data.get("external_id") or record.crm_id)
    data.setdefault("status", "open")
    _, errors = opportunity_clean(data, catalogue=catalogue)
    return data, {k: list(v) for k, v in dict(errors).items()}
