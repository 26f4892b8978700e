"""The partner program's terms: which version is in force, whether a user still has to accept
it, and the acceptance itself (recorded with time, user, partner and version).

Only partner users accept terms; managers, sales reps and integrations never have to. With no
published version nothing is required. deals asks `terms_pending_for` before a registration is
created or submitted (deals.registrations.services), the portal sends a partner user with terms
pending to the accept page (partners.middleware.ProgramTermsMiddleware)."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from partners.models import ProgramTerms, TermsAcceptance, User
from partners.roles import is_manager, membership_of
from prm.exceptions import PermissionDeniedError, StateConflict
from prm.lib import hotcache
from prm.lib.time import timezone_now

# The version in force is read on every partner page (the middleware) and every submission:
# cached (prm.lib.hotcache) as (id, version) or NONE, forgotten whenever a version is saved or
# deleted (partners.signals). A version published with a future date comes into force when the
# cached answer expires (settings.HOT_CACHE_SECONDS).
IN_FORCE_KEY = "prm:program-terms:in-force"
NONE = (0, 0)


class TermsNotAccepted(PermissionDeniedError):
    """Accept the partner program's current terms before registering deals."""

    code = "terms_not_accepted"
    status_code = 403


def _load_in_force() -> tuple[int, int]:
    row = (
        ProgramTerms.objects.filter(published_at__isnull=False, published_at__lte=timezone_now())
        .order_by("-version")
        .values_list("pk", "version")
        .first()
    )
    return (row[0], row[1]) if row else NONE


def terms_in_force_ref() -> tuple[int, int] | None:
    """(id, version) of the latest published version, None when none is published (cached)."""
    ref = hotcache.read(IN_FORCE_KEY, _load_in_force)
    return (int(ref[0]), int(ref[1])) if ref and ref[0] else None


def terms_in_force() -> ProgramTerms | None:
    """The latest published version (None when no version is published yet)."""
    ref = terms_in_force_ref()
    return ProgramTerms.objects.filter(pk=ref[0]).first() if ref else None


def terms_forget() -> None:
    """Called on every save or deletion of a version (partners.signals)."""
    hotcache.forget([IN_FORCE_KEY])


def _accepted(user_id: int, terms_id: int) -> bool:
    # Acceptances are never withdrawn (read-only in the admin): a yes is cached, a no is not.
    return bool(
        hotcache.read(
            f"prm:program-terms:accepted:{terms_id}:{user_id}",
            lambda: (
                TermsAcceptance.objects.filter(user_id=user_id, terms_id=terms_id).exists() or None
            ),
        )
    )


def terms_pending_version(user) -> int | None:
    """The version in force when `user` is a partner user who has not accepted it; else None.
    Cheap enough for every request (two cache reads once the answer is known)."""
    membership = membership_of(user)
    if membership is None or is_manager(user):
        return None
    ref = terms_in_force_ref()
    if ref is None or _accepted(user.pk, ref[0]):
        return None
    return ref[1]


def terms_pending_for(user) -> ProgramTerms | None:
    """The version in force when `user` still has to accept it (else None)."""
    if terms_pending_version(user) is None:
        return None
    return terms_in_force()


def terms_require_accepted(user) -> None:
    """Raise TermsNotAccepted (403 `terms_not_accepted`) while `user` has terms pending."""
    version = terms_pending_version(user)
    if version is not None:
        raise TermsNotAccepted(
            f"Accept version {version} of the partner program terms before registering deals "
            "(sign in to the portal to read and accept them).",
            terms_version=version,
        )


def terms_accept(*, user: User, version: object) -> TermsAcceptance:
    """`user` accepts `version`, which must be the version in force (accepting an older page
    after a newer version was published is refused: 409). Accepting twice is harmless."""
    membership = membership_of(user)
    if membership is None or is_manager(user):
        raise PermissionDeniedError("Only partner users accept the partner program terms.")
    terms = terms_in_force()
    if terms is None or str(version) != str(terms.version):
        raise StateConflict(
            "These terms are no longer the current version; read the current ones and accept them."
        )
    existing = TermsAcceptance.objects.filter(user=user, terms=terms).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return TermsAcceptance.objects.create(
                user=user, partner=membership.partner, terms=terms
            )
    except IntegrityError:  # a concurrent accept won: the same answer
        return TermsAcceptance.objects.get(user=user, terms=terms)
