"""E-mail backend for JOB-04: the first message the worker tries to send stalls (the worker is
SIGKILLed meanwhile); every later one goes to the SMTP sink normally."""

from __future__ import annotations

import os
import time
from pathlib import Path

from django.core.mail.backends.smtp import EmailBackend


class StallFirstSendBackend(EmailBackend):
    def send_messages(self, email_messages):
        marker = Path(os.environ["JOBS_STALL_MARKER"])
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return super().send_messages(email_messages)
        with os.fdopen(fd, "w") as handle:
            handle.write(",".join(m.extra_headers.get("Message-ID", "") for m in email_messages))
        time.sleep(float(os.environ.get("JOBS_STALL_SECONDS", "60")))
        return super().send_messages(email_messages)
