from django.urls import path

from deals.api.reports import ReportRegistrationsCsvApi, ReportSummaryApi

urlpatterns = [
    path("reports/summary/", ReportSummaryApi.as_view(), name="api-reports-summary"),
    path(
        "reports/registrations.csv",
        ReportRegistrationsCsvApi.as_view(),
        name="api-reports-registrations-csv",
    ),
]
