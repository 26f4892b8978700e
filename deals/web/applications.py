"""The manager workspace's partner applications: the list (with the count awaiting a decision),
an application's page with the domain match against existing partners, approve (tier and
channel manager) and decline (a reason the applicant is told). Thin: partners.applications
decides; refused decisions come back to the application's page with the input kept."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from deals.web.common import _page, domain_errors, echoed_forms, manager_required
from deals.web.forms import ApplicationApproveForm, ApplicationDeclineForm
from partners.applications import (
    application_approve,
    application_decline,
    partners_owning_domains,
)
from partners.models import PartnerApplication, Tier
from partners.selectors import applications_for_review, channel_managers
from prm.lib.ids import parse_id

STATUS_TABS = (
    ("submitted", "Awaiting decision"),
    ("approved", "Approved"),
    ("declined", "Declined"),
    ("all", "All"),
)


def _application(pk) -> PartnerApplication:
    application_id = parse_id(pk)
    application = (
        applications_for_review(None).filter(pk=application_id).first() if application_id else None
    )
    if application is None:
        raise Http404
    return application


@manager_required
@require_GET
def manage_application_list(request):
    status = request.GET.get("status") or "submitted"
    if status not in dict(STATUS_TABS):
        status = "submitted"
    queryset = applications_for_review(None if status == "all" else status)
    page, query = _page(request, queryset)
    rows = list(page.object_list)
    owners = partners_owning_domains([a.domain for a in rows])
    return render(
        request,
        "manage/application_list.html",
        {
            "page": page,
            "query": query,
            "rows": [(a, owners.get(a.domain, [])) for a in rows],
            "status": status,
            "tabs": STATUS_TABS,
            "pending_count": applications_for_review("submitted").count(),
            "section": "applications",
        },
    )


@manager_required
@require_GET
def manage_application(request, pk):
    application = _application(pk)
    tiers = list(Tier.objects.all())
    managers = channel_managers()
    initial_manager = str(request.user.pk) if any(m.pk == request.user.pk for m in managers) else ""

    def approve_form(**kwargs):
        return ApplicationApproveForm(tiers=tiers, managers=managers, **kwargs)

    forms = echoed_forms(
        request,
        {
            "manage_application_approve": (
                approve_form,
                {"tier": tiers[0].code if tiers else "", "channel_manager": initial_manager},
            ),
            "manage_application_decline": (ApplicationDeclineForm, {}),
        },
    )
    return render(
        request,
        "manage/application_detail.html",
        {
            "application": application,
            "owners": partners_owning_domains([application.domain]).get(application.domain, []),
            "approve_form": forms["manage_application_approve"],
            "decline_form": forms["manage_application_decline"],
            "section": "applications",
        },
    )


@manager_required
@require_POST
@domain_errors(back="manage_application")
def manage_application_approve(request, pk):
    application = _application(pk)
    partner = application_approve(
        actor=request.user,
        application=application,
        tier=request.POST.get("tier", ""),
        channel_manager=request.POST.get("channel_manager", ""),
    )
    messages.success(
        request,
        f"{partner.name} is now a partner; {application.contact_email} was invited as its "
        "first admin.",
    )
    return redirect("manage_application", pk=application.pk)


@manager_required
@require_POST
@domain_errors(back="manage_application")
def manage_application_decline(request, pk):
    application = _application(pk)
    application_decline(
        actor=request.user, application=application, reason=request.POST.get("reason")
    )
    messages.success(request, f"Application declined; {application.contact_email} is told why.")
    return redirect("manage_application", pk=application.pk)
