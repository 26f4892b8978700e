from django.urls import path

from deals.web import applications, attachments, audit, manage, ownership, portal, preferences, rep

urlpatterns = [
    # Audit evidence (managers)
    path(
        "manage/registrations/<id:pk>/audit.json",
        audit.audit_export_json,
        name="manage_registration_audit_json",
    ),
    path(
        "manage/registrations/<id:pk>/audit.csv",
        audit.audit_export_csv,
        name="manage_registration_audit_csv",
    ),
    path("", portal.home, name="home"),
    path("settings/preferences/", preferences.preferences_page, name="preferences"),
    # Partner portal
    path("program/", portal.program_rules_page, name="program_rules"),
    path("registrations/", portal.registration_list, name="registration_list"),
    path("registrations/new/", portal.registration_create, name="registration_create"),
    path(
        "registrations/availability/",
        portal.registration_availability,
        name="registration_availability",
    ),
    path(
        "registrations/reassign/",
        ownership.registrations_bulk_reassign,
        name="registrations_bulk_reassign",
    ),
    path("registrations/<id:pk>/", portal.registration_detail, name="registration_detail"),
    path(
        "registrations/<id:pk>/reassign/",
        ownership.registration_reassign,
        name="registration_reassign",
    ),
    path("registrations/<id:pk>/watch/", ownership.registration_watch, name="registration_watch"),
    path(
        "company/users/<id:pk>/handover/",
        ownership.company_user_handover,
        name="company_user_handover",
    ),
    path("registrations/<id:pk>/edit/", portal.registration_edit, name="registration_edit"),
    path("registrations/<id:pk>/submit/", portal.registration_submit, name="registration_submit"),
    path(
        "registrations/<id:pk>/withdraw/",
        portal.registration_withdraw,
        name="registration_withdraw",
    ),
    path(
        "registrations/<id:pk>/extension/",
        portal.registration_extension,
        name="registration_extension",
    ),
    path("registrations/<id:pk>/close/", portal.registration_close, name="registration_close"),
    path(
        "registrations/<id:pk>/comments/",
        portal.registration_comment,
        name="registration_comment",
    ),
    path(
        "registrations/<id:pk>/activities/",
        portal.registration_activity,
        name="registration_activity",
    ),
    # Evidence: partners attach and remove; whoever may see the registration downloads
    path(
        "registrations/<id:pk>/attachments/",
        attachments.attachment_upload_page,
        name="registration_attachment_upload",
    ),
    path(
        "attachments/<id:pk>/remove/",
        attachments.attachment_delete_page,
        name="attachment_remove",
    ),
    path(
        "attachments/<id:pk>/download/",
        attachments.attachment_download_page,
        name="attachment_download",
    ),
    # Notifications (every user)
    path("notifications/", portal.notification_list, name="notification_list"),
    path("notifications/read-all/", portal.notification_read_all, name="notification_read_all"),
    path("notifications/<id:pk>/read/", portal.notification_read, name="notification_read"),
    # Sales rep workspace
    path("rep/", rep.rep_workspace, name="rep_workspace"),
    path("rep/registrations/<id:pk>/", rep.rep_registration, name="rep_registration"),
    path("rep/conflicts/<id:pk>/co-sell/", rep.rep_co_sell, name="rep_co_sell"),
    # Manager workspace
    path("manage/sales-reps/", manage.manage_sales_reps, name="manage_sales_reps"),
    path("manage/", manage.manage_queue, name="manage_queue"),
    path("manage/queue/bulk-approve/", manage.manage_bulk_approve, name="manage_bulk_approve"),
    path("manage/registrations/<id:pk>/", manage.manage_registration, name="manage_registration"),
    path("manage/registrations/<id:pk>/approve/", manage.manage_approve, name="manage_approve"),
    path("manage/registrations/<id:pk>/reject/", manage.manage_reject, name="manage_reject"),
    path("manage/registrations/<id:pk>/claim/", manage.manage_claim, name="manage_claim"),
    path("manage/registrations/<id:pk>/assign/", manage.manage_assign, name="manage_assign"),
    path("manage/delegation/", manage.manage_delegation, name="manage_delegation"),
    path(
        "manage/delegation/<id:pk>/end/",
        manage.manage_delegation_end,
        name="manage_delegation_end",
    ),
    path("manage/registrations/<id:pk>/revoke/", manage.manage_revoke, name="manage_revoke"),
    path(
        "manage/registrations/<id:pk>/request-info/",
        manage.manage_request_info,
        name="manage_request_info",
    ),
    path("manage/registrations/<id:pk>/notes/", manage.manage_note, name="manage_note"),
    path("manage/conflicts/", manage.manage_conflicts, name="manage_conflicts"),
    path(
        "manage/conflicts/<id:pk>/resolve/",
        manage.manage_conflict_resolve,
        name="manage_conflict_resolve",
    ),
    path(
        "manage/extensions/<id:pk>/decide/",
        manage.manage_extension_decide,
        name="manage_extension_decide",
    ),
    path(
        "manage/applications/",
        applications.manage_application_list,
        name="manage_application_list",
    ),
    path(
        "manage/applications/<id:pk>/",
        applications.manage_application,
        name="manage_application",
    ),
    path(
        "manage/applications/<id:pk>/approve/",
        applications.manage_application_approve,
        name="manage_application_approve",
    ),
    path(
        "manage/applications/<id:pk>/decline/",
        applications.manage_application_decline,
        name="manage_application_decline",
    ),
    path("manage/partners/", manage.manage_partner_list, name="manage_partner_list"),
    path("manage/partners/<id:pk>/", manage.manage_partner_detail, name="manage_partner_detail"),
    path("manage/opportunities/", manage.manage_opportunity_list, name="manage_opportunity_list"),
    path(
        "manage/opportunities/import/",
        manage.manage_opportunity_import,
        name="manage_opportunity_import",
    ),
]
