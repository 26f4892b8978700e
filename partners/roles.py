"""Who is who: one place that answers role questions for views, API, services and templates."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from partners.models import Partner, User

REVIEW_PERMISSION = "deals.review_registration"


def is_manager(user) -> bool:
    """Channel managers: staff with the review permission; superusers are managers. An
    integration account acts with a manager's reach, but only through the API operations its
    scopes allow (partners.permissions.IntegrationScope); it cannot sign in anywhere."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_superuser or getattr(user, "is_integration", False):
        return True
    return bool(user.is_staff and user.has_perm(REVIEW_PERMISSION))


def is_integration(user) -> bool:
    return bool(getattr(user, "is_integration", False) and user.is_active)


def integration_scopes(user) -> frozenset[str]:
    """The scopes of an integration account's user (empty for anyone else, or revoked)."""
    if not is_integration(user):
        return frozenset()
    try:
        account = user.integration
    except Exception:  # RelatedObjectDoesNotExist
        return frozenset()
    return frozenset() if account.revoked_at else frozenset(account.scopes)


def is_sales_rep(user) -> bool:
    """Direct sales reps: vendor staff marked as reps (partners.services.sales_rep_create),
    never a manager, an integration or a partner user. They own the direct opportunities whose
    `owner_email` is their e-mail (case-insensitive) and see only what touches them."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if not getattr(user, "is_sales_rep", False) or is_manager(user):
        return False
    return membership_of(user) is None


def membership_of(user):
    if not getattr(user, "is_authenticated", False):
        return None
    try:
        return user.membership
    except Exception:  # RelatedObjectDoesNotExist
        return None


def partner_of(user) -> Partner | None:
    membership = membership_of(user)
    return membership.partner if membership else None


def is_partner_user(user) -> bool:
    return membership_of(user) is not None and not is_manager(user)


def is_partner_admin(user) -> bool:
    membership = membership_of(user)
    return membership is not None and membership.role == "admin"


def role_of(user: User) -> str | None:
    """'manager' | 'integration' | 'sales_rep' | 'partner_admin' | 'partner' | None
    (docs/api.md, GET /me/)."""
    if is_integration(user):
        return "integration"
    if is_manager(user):
        return "manager"
    if is_sales_rep(user):
        return "sales_rep"
    membership = membership_of(user)
    if membership is None:
        return None
    return "partner_admin" if membership.role == "admin" else "partner"


def manager_q():
    """is_manager as a query condition on users (staff with the review permission, directly or
    through a group, or superusers): the one definition the managers lists filter by."""
    from django.db.models import Q

    app_label, codename = REVIEW_PERMISSION.split(".")
    has_perm = Q(
        user_permissions__codename=codename,
        user_permissions__content_type__app_label=app_label,
    ) | Q(
        groups__permissions__codename=codename,
        groups__permissions__content_type__app_label=app_label,
    )
    return Q(is_superuser=True) | (Q(is_staff=True) & has_perm)
