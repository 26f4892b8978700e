from django.urls import path

from deals.reports import views as views_reports

urlpatterns = [
    path("manage/reports/", views_reports.reports_dashboard, name="reports-dashboard"),
    path("scorecard/", views_reports.reports_scorecard, name="reports-scorecard"),
    path(
        "reports/registrations.csv",
        views_reports.reports_registrations_csv,
        name="reports-registrations-csv",
    ),
]
