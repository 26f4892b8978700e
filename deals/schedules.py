"""Default periodic schedules (django-celery-beat rows, editable in the admin)."""


def schedules_ensure_defaults() -> int:
    return 0
