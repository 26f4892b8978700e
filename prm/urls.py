from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from prm.health import healthz

# The admin login goes through allauth: same rate limits and MFA as every other login.
admin.site.login = secure_admin_login(admin.site.login)

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include("partners.api.urls")),
    path("api/v1/", include("deals.api.urls")),
    path("api/v1/", include("deals.api.urls_reports")),
    path("api/v1/", include("integrations.api")),
    path("api/v1/", include("rewards.api")),
    path("", include("partners.urls")),
    path("", include("deals.reports.urls")),
    path("", include("rewards.urls")),
    path("", include("deals.web.urls")),
    path("", include("integrations.web")),
]

handler400 = "prm.views.bad_request"
handler403 = "prm.views.permission_denied"
handler404 = "prm.views.page_not_found"
handler500 = "prm.views.server_error"
