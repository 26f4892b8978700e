from django.urls import path

from partners import views

urlpatterns = [
    # Under /accounts/ (allauth's prefix, which has no such route) so the sign-in pages share it.
    path("accounts/sso/", views.sso_start, name="sso_start"),
    path("apply/", views.apply, name="apply"),
    path("apply/thanks/", views.apply_thanks, name="apply_thanks"),
    path("terms/", views.terms_page, name="program_terms"),
    path("company/users/", views.company_users, name="company_users"),
    path("company/users/import/", views.company_users_import, name="company_users_import"),
    path(
        "company/users/<id:pk>/deactivate/",
        views.company_user_deactivate,
        name="company_user_deactivate",
    ),
    path(
        "company/users/<id:pk>/reactivate/",
        views.company_user_reactivate,
        name="company_user_reactivate",
    ),
    path("company/users/<id:pk>/resend/", views.company_user_resend, name="company_user_resend"),
    path("company/users/<id:pk>/role/", views.company_user_role, name="company_user_role"),
    path("settings/language/", views.language_switch, name="language_switch"),
    path("settings/tokens/", views.token_list, name="token_list"),
    path("settings/tokens/<id:pk>/revoke/", views.token_revoke, name="token_revoke"),
]
