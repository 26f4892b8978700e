"""The preferences page (every signed-in user): e-mail on/off per notification kind and the
time zone pages show times in, the language. Thin: read -> service -> redirect."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext
from django.views.decorators.http import require_http_methods

from deals.models import NotificationKind
from deals.notifications import preferences
from prm.exceptions import ValidationFailed
from prm.lib.time import time_zone_names, timezone_now


@login_required
@require_http_methods(["GET", "POST"])
def preferences_page(request):
    user = request.user
    errors: dict = {}
    if request.method == "POST":
        try:
            preferences.preferences_save(
                user=user,
                email_on=request.POST.getlist("email"),
                time_zone=request.POST.get("time_zone", ""),
                language=request.POST.get("language", user.language),
            )
        except ValidationFailed as exc:
            errors = exc.fields or {"__all__": [exc.detail]}
        else:
            # The saved language applies from the next page on: the message is shown there,
            # so it is translated when it is displayed (gettext_lazy would be too late for
            # the session storage, which keeps text).
            with translation.override(user.language or translation.get_language()):
                messages.success(request, gettext("Preferences saved."))
            return redirect("preferences")
    email = preferences.email_preferences(user)
    if request.method == "POST":  # a refused form keeps what was chosen
        email = {kind: kind in request.POST.getlist("email") for kind in email}
    chosen_zone = request.POST.get("time_zone", user.time_zone) if errors else user.time_zone
    chosen_language = request.POST.get("language", user.language) if errors else user.language
    return render(
        request,
        "portal/preferences.html",
        {
            "kinds": [(kind, NotificationKind(kind).label, on) for kind, on in email.items()],
            "zones": time_zone_names(),
            "chosen_zone": chosen_zone,
            "languages": settings.LANGUAGES,
            "chosen_language": chosen_language,
            "now": timezone_now(),
            "errors": errors,
            "section": "preferences",
        },
        status=400 if errors else 200,
    )
