from django.urls import path

from deals import views_audit

urlpatterns = [
    path(
        "manage/registrations/<int:pk>/audit.json",
        views_audit.audit_export_json,
        name="manage_registration_audit_json",
    ),
    path(
        "manage/registrations/<int:pk>/audit.csv",
        views_audit.audit_export_csv,
        name="manage_registration_audit_csv",
    ),
]
