"""The Celery app. Configuration comes from Django settings (CELERY_* names); tasks live in
each app's tasks.py. The filesystem broker's folders (the `make run` default) are created by
prm/settings.py, which the web process, the worker and beat all import."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prm.settings")

app = Celery("prm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
