"""A separate OS process for CONC-08: submits registrations on the shared SQLite file.

Usage (from the test): python -m tests.reliability.conc_worker '<json spec>'
Prints one JSON line: {"submitted": n, "errors": [...]}.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time


def main() -> None:
    spec = json.loads(sys.argv[1])
    os.environ["DJANGO_SETTINGS_MODULE"] = "prm.settings"
    os.environ["SQLITE_PATH"] = spec["sqlite_path"]
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"
    os.environ["EMAIL_URL"] = "dummymail://"
    # Each user submits once per round, faster than the availability budget allows a person.
    os.environ["CONFLICT_CHECK_RATE_USER"] = "1000000/m"
    os.environ["CONFLICT_CHECK_RATE_PARTNER"] = "1000000/d"
    os.environ["CACHE_URL"] = "locmemcache://"  # the worker's database has no cache table
    os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()
    from django.db import connections

    from deals.registrations import services
    from partners.models import User

    users = [User.objects.get(email=email) for email in spec["emails"]]
    connections.close_all()
    errors: list[str] = []
    submitted = 0
    lock = threading.Lock()

    for round_no, data in enumerate(spec["rounds"]):
        start_at = spec["start_at"] + round_no * spec["spacing"]
        barrier = threading.Barrier(len(users))

        def submit(user, data=data, start_at=start_at, barrier=barrier):
            nonlocal submitted
            try:
                barrier.wait(timeout=30)
                time.sleep(max(0.0, start_at - time.time()))
                services.registration_create(actor=user, data=dict(data))
                with lock:
                    submitted += 1
            except Exception as exc:  # noqa: BLE001 - reported to the test
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")
            finally:
                connections.close_all()

        threads = [threading.Thread(target=submit, args=(u,)) for u in users]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    print(json.dumps({"submitted": submitted, "errors": errors}))


if __name__ == "__main__":
    main()
