"""Rewards pages: the partner's Earnings page and the managers' rewards workspace (wins to
verify, accruals to approve in bulk and to mark paid, the payout export and the incentive cost
report). Thin like every page: access -> service/selector -> template."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from deals import access
from deals.web.common import _page, domain_errors, manager_required, partner_required
from prm.lib.ids import parse_id
from rewards import selectors, services
from rewards.models import AccrualStatus


@partner_required
@require_GET
def earnings(request):
    """The partner's earned, pending, approved and paid amounts, and their accruals."""
    user = request.user
    queryset = selectors.accruals_visible_to(user).order_by("-created_at", "-id")
    page, query = _page(request, queryset)
    return render(
        request,
        "rewards/earnings.html",
        {
            "totals": selectors.earnings_summary(user),
            "page": page,
            "query": query,
            "accruals": list(page.object_list),
            "section": "earnings",
        },
    )


@manager_required
@domain_errors()
@require_GET
def manage_rewards(request):
    user = request.user
    status = request.GET.get("status") or "pending"
    params = {"status": status if status in AccrualStatus.values else "pending"}
    for name in ("currency", "from", "to"):
        if request.GET.get(name):
            params[name] = request.GET[name]
    queryset = selectors.accruals_filter(selectors.accruals_visible_to(user), params, user=user)
    page, query = _page(request, queryset.order_by("created_at", "id"))
    return render(
        request,
        "rewards/manage.html",
        {
            "to_verify": list(selectors.won_awaiting_verification()[:50]),
            "page": page,
            "query": query,
            "accruals": list(page.object_list),
            "status": params["status"],
            "current": params,
            "statuses": AccrualStatus.choices,
            "report": selectors.incentive_report(user),
            "co_sell": selectors.co_sell_report(user),
            "section": "rewards",
        },
    )


@manager_required
@domain_errors(back="manage_registration")
@require_POST
def manage_verify_win(request, pk):
    registration = access.access_registration_for_user(request.user, pk)
    accrual = services.win_verify(registration=registration, actor=request.user)
    messages.success(
        request,
        f"Win on {registration.reference} verified; accrual of {accrual.amount:f} "
        f"{accrual.currency} created.",
    )
    return redirect("manage_registration", pk=pk)


@manager_required
@domain_errors()
@require_POST
def manage_accruals_approve(request):
    ids = [i for i in (parse_id(v) for v in request.POST.getlist("accrual")) if i is not None]
    if not ids:
        messages.error(request, "Select at least one pending accrual.")
        return redirect("manage_rewards")
    count = services.accruals_approve(accrual_ids=ids, actor=request.user)
    messages.success(request, f"{count} accrual{'s' if count != 1 else ''} approved.")
    return redirect("manage_rewards")


@manager_required
@domain_errors(back="manage_rewards_paid")
@require_POST
def manage_accrual_mark_paid(request, pk):
    accrual = selectors.access_accrual_for_user(request.user, pk)
    services.accrual_mark_paid(
        accrual=accrual, actor=request.user, reference=request.POST.get("reference", "")
    )
    messages.success(request, f"Accrual #{pk} marked paid.")
    return redirect(f"{_url('manage_rewards')}?status=approved")


def _url(name: str) -> str:
    from django.urls import reverse

    return reverse(name)


@manager_required
@require_GET
def manage_rewards_paid(request, pk):
    return redirect(f"{_url('manage_rewards')}?status=approved")
