"""The project's URLconf plus probe routes used only by the security tests: a view that raises
(SEC-05), and a view that reads a registration without tenant scoping (ISO-07 meta-test)."""

from django.http import JsonResponse
from django.urls import path
from rest_framework.views import APIView

from prm.urls import *  # noqa: F403 - urlpatterns and handler400/403/404/500
from prm.urls import urlpatterns as project_urlpatterns


def boom(request):
    raise RuntimeError("SELECT secret FROM settings WHERE SECRET_KEY='probe' /srv/app/views.py")


class ApiBoom(APIView):
    def get(self, request):
        raise RuntimeError("SELECT secret FROM settings WHERE SECRET_KEY='probe' /srv/app/api.py")


def unscoped_read(request, pk):
    from deals.models import DealRegistration

    registration = DealRegistration.objects.get(pk=pk)  # deliberately not scoped
    return JsonResponse({"customer": registration.customer_name})


def scoped_read(request, pk):
    from django.http import Http404

    from deals.access import access_registration_for_user
    from deals.models import Comment
    from prm.exceptions import NotFound

    try:
        registration = access_registration_for_user(request.user, pk)
    except NotFound:
        raise Http404() from None
    comments = list(Comment.objects.filter(registration=registration).values_list("id", flat=True))
    return JsonResponse({"customer": registration.customer_name, "comments": comments})


urlpatterns = [
    path("probe/boom/", boom),
    path("api/v1/probe/boom/", ApiBoom.as_view()),
    path("probe/unscoped/<id:pk>/", unscoped_read),
    path("probe/scoped/<id:pk>/", scoped_read),
    *project_urlpatterns,
]
