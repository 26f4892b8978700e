from django.urls import path

from deals.api import attachments, fields, ownership, program, routing, tiers, views

urlpatterns = [
    path("tiers/", tiers.TierListView.as_view(), name="api-tiers"),
    path("program/", program.ProgramView.as_view(), name="api-program"),
    path("products/", views.ProductListView.as_view(), name="api-products"),
    path(
        "registration-fields/",
        fields.RegistrationFieldListView.as_view(),
        name="api-registration-fields",
    ),
    path(
        "registration-fields/<slug:key>/",
        fields.RegistrationFieldDetailView.as_view(),
        name="api-registration-field",
    ),
    path("registrations/", views.RegistrationListView.as_view(), name="api-registrations"),
    path(
        "registrations/<id:pk>/",
        views.RegistrationDetailView.as_view(),
        name="api-registration",
    ),
    path(
        "registrations/<id:pk>/submit/", views.SubmitView.as_view(), name="api-registration-submit"
    ),
    path(
        "registrations/<id:pk>/approve/",
        views.ApproveView.as_view(),
        name="api-registration-approve",
    ),
    path(
        "registrations/<id:pk>/reject/", views.RejectView.as_view(), name="api-registration-reject"
    ),
    path(
        "registrations/<id:pk>/revoke/", views.RevokeView.as_view(), name="api-registration-revoke"
    ),
    path(
        "registrations/<id:pk>/request-info/",
        views.RequestInfoView.as_view(),
        name="api-registration-request-info",
    ),
    path(
        "registrations/<id:pk>/withdraw/",
        views.WithdrawView.as_view(),
        name="api-registration-withdraw",
    ),
    path("registrations/<id:pk>/close/", views.CloseView.as_view(), name="api-registration-close"),
    path(
        "registrations/<id:pk>/extension-requests/",
        views.ExtensionRequestCreateView.as_view(),
        name="api-registration-extension-requests",
    ),
    path(
        "registrations/<id:pk>/comments/",
        views.CommentListView.as_view(),
        name="api-registration-comments",
    ),
    path(
        "registrations/<id:pk>/attachments/",
        attachments.RegistrationAttachmentListView.as_view(),
        name="api-registration-attachments",
    ),
    path(
        "attachments/<id:pk>/",
        attachments.AttachmentDetailView.as_view(),
        name="api-attachment",
    ),
    path(
        "attachments/<id:pk>/download/",
        attachments.AttachmentDownloadView.as_view(),
        name="api-attachment-download",
    ),
    path(
        "registrations/<id:pk>/history/",
        views.HistoryView.as_view(),
        name="api-registration-history",
    ),
    path(
        "registrations/<id:pk>/reassign/",
        ownership.ReassignView.as_view(),
        name="api-registration-reassign",
    ),
    path(
        "registrations/<id:pk>/claim/",
        routing.ClaimView.as_view(),
        name="api-registration-claim",
    ),
    path(
        "registrations/<id:pk>/assign/",
        routing.AssignView.as_view(),
        name="api-registration-assign",
    ),
    path(
        "registrations/<id:pk>/watch/",
        ownership.WatchView.as_view(),
        name="api-registration-watch",
    ),
    path(
        "extension-requests/<id:pk>/approve/",
        views.ExtensionApproveView.as_view(),
        name="api-extension-request-approve",
    ),
    path(
        "extension-requests/<id:pk>/reject/",
        views.ExtensionRejectView.as_view(),
        name="api-extension-request-reject",
    ),
    path("conflict-check/", views.ConflictCheckView.as_view(), name="api-conflict-check"),
    path("conflicts/", views.ConflictListView.as_view(), name="api-conflicts"),
    path(
        "conflicts/<id:pk>/resolve/",
        views.ConflictResolveView.as_view(),
        name="api-conflict-resolve",
    ),
    path(
        "conflicts/<id:pk>/co-sell/",
        views.ConflictCoSellView.as_view(),
        name="api-conflict-co-sell",
    ),
    path("opportunities/", views.OpportunityListView.as_view(), name="api-opportunities"),
    path("opportunities/bulk/", views.OpportunityBulkView.as_view(), name="api-opportunities-bulk"),
    path(
        "opportunities/import/",
        views.OpportunityImportView.as_view(),
        name="api-opportunities-import",
    ),
    path(
        "opportunities/<id:pk>/",
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
        "notifications/<id:pk>/read/",
        views.NotificationReadView.as_view(),
        name="api-notification-read",
    ),
]
