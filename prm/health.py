"""GET /healthz: is the database reachable, is the broker reachable (no auth)."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone()[0] == 1
    except Exception:
        return False


def _broker_state() -> str:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "eager"
    try:
        from prm.celery import app

        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=0, timeout=1)
        return "ok"
    except Exception:
        return "unavailable"


@require_GET
def healthz(request):
    database = "ok" if _database_ok() else "unavailable"
    body = {"status": "ok" if database == "ok" else "degraded", "database": database}
    body["broker"] = _broker_state()
    return JsonResponse(body, status=200 if database == "ok" else 503)
