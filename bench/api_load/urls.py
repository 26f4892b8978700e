from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from prm.urls import urlpatterns as product_urlpatterns


class PingView(APIView):
    """The ceiling: a DRF view with no database and no authentication."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request):
        return Response({"ok": True})


urlpatterns = [path("bench/ping/", PingView.as_view()), *product_urlpatterns]
