from django.urls import path

from rewards import views

urlpatterns = [
    path("earnings/", views.earnings, name="earnings"),
    path("manage/rewards/", views.manage_rewards, name="manage_rewards"),
    path("manage/rewards/approve/", views.manage_accruals_approve, name="manage_accruals_approve"),
    path(
        "manage/rewards/accruals/<id:pk>/mark-paid/",
        views.manage_accrual_mark_paid,
        name="manage_accrual_mark_paid",
    ),
    path(
        "manage/rewards/accruals/<id:pk>/",
        views.manage_rewards_paid,
        name="manage_rewards_paid",
    ),
    path(
        "manage/registrations/<id:pk>/verify-win/",
        views.manage_verify_win,
        name="manage_verify_win",
    ),
]
