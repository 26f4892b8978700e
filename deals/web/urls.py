from django.urls import path

from deals import views

urlpatterns = [
    path("", views.home, name="home"),
    # Partner portal
    path("registrations/", views.registration_list, name="registration_list"),
    path("registrations/new/", views.registration_create, name="registration_create"),
    path(
        "registrations/availability/",
        views.registration_availability,
        name="registration_availability",
    ),
    path("registrations/<int:pk>/", views.registration_detail, name="registration_detail"),
    path("registrations/<int:pk>/edit/", views.registration_edit, name="registration_edit"),
    path("registrations/<int:pk>/submit/", views.registration_submit, name="registration_submit"),
    path(
        "registrations/<int:pk>/withdraw/",
        views.registration_withdraw,
        name="registration_withdraw",
    ),
    path(
        "registrations/<int:pk>/extension/",
        views.registration_extension,
        name="registration_extension",
    ),
    path("registrations/<int:pk>/close/", views.registration_close, name="registration_close"),
    path(
        "registrations/<int:pk>/comments/",
        views.registration_comment,
        name="registration_comment",
    ),
    path(
        "registrations/<int:pk>/activities/",
        views.registration_activity,
        name="registration_activity",
    ),
    # Notifications (every user)
    path("notifications/", views.notification_list, name="notification_list"),
    path("notifications/read-all/", views.notification_read_all, name="notification_read_all"),
    path("notifications/<int:pk>/read/", views.notification_read, name="notification_read"),
    # Manager workspace
    path("manage/", views.manage_queue, name="manage_queue"),
    path("manage/queue/bulk-approve/", views.manage_bulk_approve, name="manage_bulk_approve"),
    path("manage/registrations/<int:pk>/", views.manage_registration, name="manage_registration"),
    path("manage/registrations/<int:pk>/approve/", views.manage_approve, name="manage_approve"),
    path("manage/registrations/<int:pk>/reject/", views.manage_reject, name="manage_reject"),
    path(
        "manage/registrations/<int:pk>/request-info/",
        views.manage_request_info,
        name="manage_request_info",
    ),
    path("manage/registrations/<int:pk>/notes/", views.manage_note, name="manage_note"),
    path(
        "manage/conflicts/<int:pk>/resolve/",
        views.manage_conflict_resolve,
        name="manage_conflict_resolve",
    ),
    path(
        "manage/extensions/<int:pk>/decide/",
        views.manage_extension_decide,
        name="manage_extension_decide",
    ),
    path("manage/partners/", views.manage_partner_list, name="manage_partner_list"),
    path("manage/partners/<int:pk>/", views.manage_partner_detail, name="manage_partner_detail"),
    path("manage/opportunities/", views.manage_opportunity_list, name="manage_opportunity_list"),
    path(
        "manage/opportunities/import/",
        views.manage_opportunity_import,
        name="manage_opportunity_import",
    ),
]
