from django.urls import path

from deals.api import tiers, views

urlpatterns = [
    path("tiers/", tiers.TierListView.as_view(), name="api-tiers"),
    path("products/", views.ProductListView.as_view(), name="api-products"),
    path("registrations/", views.RegistrationListView.as_view(), name="api-registrations"),
    path(
        "registrations/<int:pk>/",
        views.RegistrationDetailView.as_view(),
        name="api-registration",
    ),
    path(
        "registrations/<int:pk>/submit/", views.SubmitView.as_view(), name="api-registration-submit"
    ),
    path(
        "registrations/<int:pk>/approve/",
        views.ApproveView.as_view(),
        name="api-registration-approve",
    ),
    path(
        "registrations/<int:pk>/reject/", views.RejectView.as_view(), name="api-registration-reject"
    ),
    path(
        "registrations/<int:pk>/request-info/",
        views.RequestInfoView.as_view(),
        name="api-registration-request-info",
    ),
    path(
        "registrations/<int:pk>/withdraw/",
        views.WithdrawView.as_view(),
        name="api-registration-withdraw",
    ),
    path("registrations/<int:pk>/close/", views.CloseView.as_view(), name="api-registration-close"),
    path(
        "registrations/<int:pk>/extension-requests/",
        views.ExtensionRequestCreateView.as_view(),
        name="api-registration-extension-requests",
    ),
    path(
        "registrations/<int:pk>/comments/",
        views.CommentListView.as_view(),
        name="api-registration-comments",
    ),
    path(
        "registrations/<int:pk>/history/",
        views.HistoryView.as_view(),
        name="api-registration-history",
    ),
    path(
        "extension-requests/<int:pk>/approve/",
        views.ExtensionApproveView.as_view(),
        name="api-extension-request-approve",
    ),
    path(
        "extension-requests/<int:pk>/reject/",
        views.ExtensionRejectView.as_view(),
        name="api-extension-request-reject",
    ),
    path("conflict-check/", views.ConflictCheckView.as_view(), name="api-conflict-check"),
    path("conflicts/", views.ConflictListView.as_view(), name="api-conflicts"),
    path(
        "conflicts/<int:pk>/resolve/",
        views.ConflictResolveView.as_view(),
        name="api-conflict-resolve",
    ),
    path("opportunities/", views.OpportunityListView.as_view(), name="api-opportunities"),
    path("opportunities/bulk/", views.OpportunityBulkView.as_view(), name="api-opportunities-bulk"),
    path(
        "opportunities/import/",
        views.OpportunityImportView.as_view(),
        name="api-opportunities-import",
    ),
    path(
        "opportunities/<int:pk>/",
        views.OpportunityDetailView.as_view(),
        name="api-opportunity",
    ),
    path("notifications/", views.NotificationListView.as_view(), name="api-notifications"),
    path(
        "notifications/read-all/",
        views.NotificationReadAllView.as_view(),
        name="api-notifications-read-all",
    ),
    path(
        "notifications/<int:pk>/read/",
        views.NotificationReadView.as_view(),
        name="api-notification-read",
    ),
]
