from django.urls import path

from partners.api import integrations, sales_reps, views

urlpatterns = [
    path("auth/token/", views.TokenView.as_view(), name="api-auth-token"),
    path("me/", views.MeView.as_view(), name="api-me"),
    path("partners/", views.PartnerListView.as_view(), name="api-partners"),
    path("partners/<id:pk>/", views.PartnerDetailView.as_view(), name="api-partner"),
    path("partners/<id:pk>/users/", views.PartnerUserListView.as_view(), name="api-partner-users"),
    path(
        "partners/<id:pk>/users/<id:user_id>/",
        views.PartnerUserDetailView.as_view(),
        name="api-partner-user",
    ),
    path("sales-reps/", sales_reps.SalesRepListView.as_view(), name="api-sales-reps"),
    path("integrations/", integrations.IntegrationListView.as_view(), name="api-integrations"),
    path(
        "integrations/<id:pk>/",
        integrations.IntegrationDetailView.as_view(),
        name="api-integration",
    ),
]
