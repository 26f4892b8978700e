"""The beat job per connection, the credentials at rest, and the setup rules."""

from __future__ import annotations

import json

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django_celery_beat.models import PeriodicTask

from integrations.crm import credentials
from integrations.crm.pull import crm_pull
from integrations.crm.services import connection_next_run, connection_schedule
from tests.integrations.crm.conftest import hs_connection

pytestmark = pytest.mark.django_db


def test_each_connection_has_its_own_beat_job(fake_hs):
    connection = hs_connection(fake_hs)
    task = PeriodicTask.objects.get(name=f"crm-pull-{connection.pk}")
    assert task.task == "integrations.tasks.crm_pull"
    assert json.loads(task.args) == [connection.pk]
    assert (task.interval.every, task.interval.period, task.enabled) == (15, "minutes", True)
    assert connection_next_run(connection) is not None

    connection.pull_every_minutes, connection.pull_enabled = 5, False
    connection.save()
    connection_schedule(connection)
    task.refresh_from_db()
    assert (task.interval.every, task.enabled) == (5, False)
    assert connection_next_run(connection) is None

    pk = connection.pk
    connection.delete()
    assert not PeriodicTask.objects.filter(name=f"crm-pull-{pk}").exists()
    assert crm_pull(pk) is None  # a beat tick that was already queued does nothing


def test_credentials_rotate_and_refuse_an_unknown_key(settings):
    old = settings.CRM_CREDENTIALS_KEY
    token = credentials.encrypt({"token": "pat-secret"})
    assert "pat-secret" not in token

    new = Fernet.generate_key().decode()
    settings.CRM_CREDENTIALS_KEY = f"{new},{old}"
    assert credentials.decrypt(token) == {"token": "pat-secret"}  # old key still decrypts
    rotated = credentials.rotate(token)
    settings.CRM_CREDENTIALS_KEY = new
    assert credentials.decrypt(rotated) == {"token": "pat-secret"}
    with pytest.raises(credentials.CredentialsUnreadable, match="connect again"):
        credentials.decrypt(token)


def test_no_key_in_production_refuses_to_store(settings):
    settings.CRM_CREDENTIALS_KEY = ""
    settings.DEBUG = False
    with pytest.raises(ImproperlyConfigured, match="CRM_CREDENTIALS_KEY"):
        credentials.encrypt({"token": "x"})
