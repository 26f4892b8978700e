"""Speaking to one person: their language and time zone for a block of code (e-mails and the
notification texts are written for the recipient, not for whoever caused them)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.utils import timezone, translation

from prm.lib.time import valid_time_zone


def language_of(user) -> str:
    """The user's saved language when it is one of settings.LANGUAGES, else the default."""
    code = getattr(user, "language", "") or ""
    return code if code in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


@contextmanager
def recipient_locale(user) -> Iterator[None]:
    """Within the block, gettext speaks `user`'s language and dates convert to their time zone
    (User.time_zone; UTC when unset or unknown)."""
    name = getattr(user, "time_zone", "") or ""
    zone = valid_time_zone(name) if name else None
    with translation.override(language_of(user)), timezone.override(zone):
        yield
