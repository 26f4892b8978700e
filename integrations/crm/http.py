"""The HTTP settings both vendors' clients share: timeouts and the trusted CA bundle."""

from __future__ import annotations

import requests
from django.conf import settings


class TimeoutSession(requests.Session):
    """A requests session with a default timeout (simple-salesforce's sObject calls take no
    timeout argument) and the CRM_CA_BUNDLE, if set, as the trust store."""

    def __init__(self) -> None:
        super().__init__()
        if settings.CRM_CA_BUNDLE:
            self.verify = settings.CRM_CA_BUNDLE
        self.timeout = settings.CRM_HTTP_TIMEOUT_SECONDS

    def request(self, method, url, *args, **kwargs):
        kwargs.setdefault("timeout", self.timeout)
        if settings.CRM_CA_BUNDLE and kwargs.get("verify") in (None, True):
            # Explicit: requests would otherwise prefer REQUESTS_CA_BUNDLE from the environment.
            kwargs["verify"] = settings.CRM_CA_BUNDLE
        return super().request(method, url, *args, **kwargs)


def transient_status(status: int | None) -> bool:
    return status is not None and (status == 429 or status >= 500)
