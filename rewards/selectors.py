"""Rewards' reads: accruals scoped by tenant (`accruals_visible_to`), their filters, a partner's
earnings, the payout export rows and the incentive cost report.

Tenant scoping lives here and only here: a partner user sees their own company's accruals, a
manager every accrual, anyone else none; views never filter by partner themselves."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.db.models import Count, QuerySet, Sum

from deals.models import CoSellAgreement, DealRegistration
from partners.models import User
from partners.roles import is_manager, is_sales_rep, partner_of
from prm.exceptions import NotFound, ValidationFailed
from prm.lib.ids import parse_id
from rewards.models import Accrual, AccrualStatus
from rewards.money import HUNDRED, round_money


def accruals_visible_to(user) -> QuerySet[Accrual]:
    """Managers: every accrual; partner users: their own company's; anyone else: none."""
    base = Accrual.objects.select_related("partner", "registration")
    if is_manager(user):
        return base
    partner = partner_of(user)
    if partner is None:
        return Accrual.objects.none()
    return base.filter(partner_id=partner.pk)


def access_accrual_for_user(user, pk) -> Accrual:
    """The accrual `pk` if `user` may see it, else NotFound (404, whether it exists or not)."""
    accrual = accruals_visible_to(user).filter(pk=pk).first() if parse_id(str(pk)) else None
    if accrual is None:
        raise NotFound()
    return accrual


def parse_date(params, name: str, errors: dict) -> dt.date | None:
    raw = params.get(name)
    if raw in (None, ""):
        return None
    text = str(raw)
    try:
        if len(text) != 10:
            raise ValueError(text)
        return dt.date.fromisoformat(text)
    except ValueError:
        errors[name] = ["A date as YYYY-MM-DD."]
        return None


def accruals_filter(queryset: QuerySet[Accrual], params, *, user) -> QuerySet[Accrual]:
    """`status` (comma-separated), `partner` (id; managers), `currency`, `from`/`to` (the
    verification day, UTC, inclusive). Bad values → ValidationFailed (400)."""
    errors: dict[str, list[str]] = {}
    status = params.get("status")
    if status:
        wanted = [s.strip() for s in str(status).split(",") if s.strip()]
        if not wanted or any(s not in AccrualStatus.values for s in wanted):
            errors["status"] = [f"Choose from: {', '.join(AccrualStatus.values)}."]
        else:
            queryset = queryset.filter(status__in=wanted)
    partner = params.get("partner")
    if partner not in (None, ""):
        partner_id = parse_id(str(partner))
        if partner_id is None:
            errors["partner"] = ["A partner id."]
        else:
            queryset = queryset.filter(partner_id=partner_id)
    currency = params.get("currency")
    if currency:
        currency = str(currency).upper()
        if len(currency) != 3 or not currency.isalpha() or not currency.isascii():
            errors["currency"] = ["An ISO 4217 code."]
        else:
            queryset = queryset.filter(currency=currency)
    start, end = parse_date(params, "from", errors), parse_date(params, "to", errors)
    if start and end and start > end:
        errors["to"] = ["On or after `from`."]
    if errors:
        raise ValidationFailed("Some filters are not valid.", fields=errors)
    if start:
        queryset = queryset.filter(
            created_at__gte=dt.datetime.combine(start, dt.time.min, tzinfo=dt.UTC)
        )
    if end:
        queryset = queryset.filter(
            created_at__lt=dt.datetime.combine(
                end + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC
            )
        )
    return queryset


def earnings_summary(user) -> dict[str, dict[str, Decimal]]:
    """{currency: {"earned", "pending", "approved", "paid"}} over the accruals `user` sees
    (a partner: their company's). Earned = everything accrued (pending + approved + paid)."""
    totals: dict[str, dict[str, Decimal]] = defaultdict(
        lambda: {k: Decimal(0) for k in ("earned", "pending", "approved", "paid")}
    )
    rows = (
        accruals_visible_to(user)
        .order_by()
        .values("currency", "status")
        .annotate(total=Sum("amount"), n=Count("id"))
    )
    for row in rows:
        cell = totals[row["currency"]]
        cell[row["status"]] += row["total"] or Decimal(0)
        cell["earned"] += row["total"] or Decimal(0)
    return dict(sorted(totals.items()))


PAYOUT_COLUMNS = [
    "accrual_id",
    "registration_reference",
    "partner_id",
    "partner",
    "customer_name",
    "kind",
    "basis",
    "rate",
    "credit_percent",
    "amount",
    "currency",
    "status",
    "late",
    "verified_at",
    "approved_at",
    "paid_at",
    "reference",
]


def payout_rows(queryset: QuerySet[Accrual]):
    """The payout export's accruals (approved and paid by default), oldest first."""
    return queryset.select_related("partner", "registration").order_by(
        "currency", "created_at", "id"
    )


def incentive_report(user, *, start: dt.date | None = None, end: dt.date | None = None) -> list:
    """Per tier and month of the win's close date: partner-sourced revenue (won value of
    verified wins), incentive cost (their accruals) and the cost's share of the revenue, per
    currency. Partners see their own company only (through accruals_visible_to)."""
    queryset = accruals_visible_to(user)
    if start:
        queryset = queryset.filter(registration__close_date__gte=start)
    if end:
        queryset = queryset.filter(registration__close_date__lte=end)
    rows = (
        queryset.order_by()
        .values(
            "partner__tier__code",
            "partner__tier__name",
            "registration__close_date__year",
            "registration__close_date__month",
            "registration__currency",
            "currency",
        )
        .annotate(revenue=Sum("registration__actual_value"), cost=Sum("amount"), n=Count("id"))
    )
    cells: dict[tuple, dict] = {}
    for row in rows:
        year, month = row["registration__close_date__year"], row["registration__close_date__month"]
        period = f"{year:04d}-{month:02d}" if year else "—"
        key = (row["partner__tier__code"] or "", period)
        cell = cells.setdefault(
            key,
            {
                "tier": row["partner__tier__code"] or "",
                "tier_name": row["partner__tier__name"] or "",
                "period": period,
                "wins": 0,
                "revenue": defaultdict(Decimal),
                "cost": defaultdict(Decimal),
            },
        )
        cell["wins"] += row["n"]
        cell["revenue"][row["registration__currency"]] += row["revenue"] or Decimal(0)
        cell["cost"][row["currency"]] += row["cost"] or Decimal(0)
    out = []
    for key in sorted(cells):
        cell = cells[key]
        share = {}
        for currency, revenue in cell["revenue"].items():
            cost = cell["cost"].get(currency, Decimal(0))
            share[currency] = (cost / revenue) if revenue else None
        out.append(
            {
                **cell,
                "revenue": dict(sorted(cell["revenue"].items())),
                "cost": dict(sorted(cell["cost"].items())),
                "share": dict(sorted(share.items())),
            }
        )
    return out


def co_sell_report(user, *, start: dt.date | None = None, end: dt.date | None = None) -> dict:
    """Co-sell revenue with its credits, per month of the close date and currency: by partner
    (the won value of registrations closed won under a co-sell agreement, and the partner's
    credit: the value × the latest agreement's partner credit %) and by sales rep (the same
    value × each agreement's rep credit %, one agreement per conflicting opportunity). Every
    credit is rounded once per deal to the currency's minor units, then summed.

    Managers see both sides; a partner user only their own company's partner rows (never the
    rep: the other party of a conflict is not named); a sales rep only their own rep rows."""
    agreements = CoSellAgreement.objects.filter(registration__status="won").select_related(
        "registration__partner"
    )
    show_partners = show_reps = True
    if is_manager(user):
        pass
    elif is_sales_rep(user):
        agreements = agreements.filter(rep_email__iexact=user.email)
        show_partners = False
    elif (partner := partner_of(user)) is not None:
        agreements = agreements.filter(registration__partner_id=partner.pk)
        show_reps = False
    else:
        return {"by_partner": [], "by_rep": []}
    if start:
        agreements = agreements.filter(registration__close_date__gte=start)
    if end:
        agreements = agreements.filter(registration__close_date__lte=end)
    rows = list(agreements.order_by("registration_id", "-created_at", "-id"))
    by_partner: dict[tuple, dict] = {}
    by_rep: dict[tuple, dict] = {}
    latest_seen: set[int] = set()
    for agreement in rows:
        registration = agreement.registration
        value, currency = registration.actual_value or Decimal(0), registration.currency
        period = registration.close_date.strftime("%Y-%m") if registration.close_date else "—"
        if show_partners and registration.pk not in latest_seen:
            # The latest agreement decides the partner's credit (as the accrual does).
            partner = registration.partner
            cell = by_partner.setdefault(
                (period, partner.name.casefold(), partner.pk, currency),
                {
                    "period": period,
                    "partner_id": partner.pk,
                    "partner": partner.name,
                    "currency": currency,
                    "deals": 0,
                    "revenue": Decimal(0),
                    "credit": Decimal(0),
                },
            )
            cell["deals"] += 1
            cell["revenue"] += value
            cell["credit"] += round_money(
                value * agreement.partner_credit_percent / HUNDRED, currency
            )
        latest_seen.add(registration.pk)
        if show_reps and agreement.rep_email:
            email = agreement.rep_email.lower()
            cell = by_rep.setdefault(
                (period, email, currency),
                {
                    "period": period,
                    "rep_email": email,
                    "rep": email,
                    "currency": currency,
                    "deals": 0,
                    "revenue": Decimal(0),
                    "credit": Decimal(0),
                },
            )
            cell["deals"] += 1
            cell["revenue"] += value
            cell["credit"] += round_money(value * agreement.rep_credit_percent / HUNDRED, currency)
    if by_rep:
        names = dict(
            User.objects.filter(email__in={cell["rep_email"] for cell in by_rep.values()})
            .exclude(name="")
            .values_list("email", "name")
        )
        for cell in by_rep.values():
            cell["rep"] = names.get(cell["rep_email"], cell["rep_email"])
    return {
        "by_partner": [by_partner[key] for key in sorted(by_partner)],
        "by_rep": [by_rep[key] for key in sorted(by_rep)],
    }


def won_awaiting_verification() -> QuerySet[DealRegistration]:
    """Won registrations whose win nobody verified yet (the managers' work list)."""
    return (
        DealRegistration.objects.filter(status="won", win_verified_at__isnull=True)
        .select_related("partner")
        .order_by("closed_at", "id")
    )
