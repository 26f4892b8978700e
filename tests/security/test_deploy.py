"""SEC-01 deploy check, SEC-05 (DEBUG off in production), and the production settings refusing
to start half-configured."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOOD_KEY = "k" * 20 + "Zq8-xYw3_vT0aB9sL2mN7pR4uE6iO1cF5hJ8gK3dS0a"


def _env(**overrides) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SECRET_KEY"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "prm.settings_prod",
            "SECRET_KEY": GOOD_KEY,
            "ALLOWED_HOSTS": "deals.example.com",
            "CACHE_URL": "redis://127.0.0.1:6379/1",
            "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
            "PRM_VAR_DIR": str(ROOT / "var"),
        }
    )
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


def _run(*args, **env):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_sec01_deploy_check_passes_at_warning_level():
    result = _run("check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    # Exactly the documented silenced check (HSTS preload, see prm/settings_prod.py).
    assert "1 silenced" in result.stdout + result.stderr


def test_sec01_with_preload_nothing_is_silenced():
    result = _run("check", "--deploy", "--fail-level", "WARNING", HSTS_PRELOAD="true")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 silenced" in result.stdout + result.stderr


def _settings_dump(**env):
    code = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({k: getattr(s, k, None) for k in ["
        "'DEBUG','SECURE_HSTS_SECONDS','SECURE_HSTS_INCLUDE_SUBDOMAINS','SECURE_SSL_REDIRECT',"
        "'SECURE_PROXY_SSL_HEADER','SESSION_COOKIE_SECURE','CSRF_COOKIE_SECURE',"
        "'SESSION_COOKIE_NAME','CSRF_COOKIE_NAME','SESSION_COOKIE_HTTPONLY',"
        "'SESSION_COOKIE_SAMESITE','CSRF_COOKIE_SAMESITE','MFA_REQUIRED_FOR_MANAGERS',"
        "'SILENCED_SYSTEM_CHECKS','ACCOUNT_LOGIN_ON_PASSWORD_RESET','ALLOWED_HOSTS']} | "
        "{'cache': s.CACHES['default']['BACKEND'], 'static': s.STORAGES['staticfiles']['BACKEND'],"
        " 'bypass': hasattr(s, 'MFA_TOTP_INSECURE_BYPASS_CODE')}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=_env(**env), capture_output=True, text=True
    )
    return result


def test_production_settings_values():
    import json

    result = _settings_dump()
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["DEBUG"] is False  # SEC-05
    assert values["SECURE_HSTS_SECONDS"] >= 31536000
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert values["SESSION_COOKIE_SECURE"] and values["CSRF_COOKIE_SECURE"]
    assert values["SESSION_COOKIE_NAME"] == "__Host-sessionid"
    assert values["CSRF_COOKIE_NAME"] == "__Host-csrftoken"
    assert values["SESSION_COOKIE_HTTPONLY"] is True
    assert values["SESSION_COOKIE_SAMESITE"] == values["CSRF_COOKIE_SAMESITE"] == "Lax"
    assert values["MFA_REQUIRED_FOR_MANAGERS"] is True
    assert values["ACCOUNT_LOGIN_ON_PASSWORD_RESET"] is False
    assert values["SILENCED_SYSTEM_CHECKS"] == ["security.W021"]
    assert values["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert values["static"] == "whitenoise.storage.CompressedManifestStaticFilesStorage"
    assert values["ALLOWED_HOSTS"] == ["deals.example.com"]
    assert values["bypass"] is False


def test_debug_env_cannot_switch_debug_on_in_production():
    import json

    result = _settings_dump(DEBUG="true")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["DEBUG"] is False


def test_secrets_are_read_from_files(tmp_path):
    import json

    key_file = tmp_path / "secret_key"
    key_file.write_text(GOOD_KEY[::-1] + "\n")
    result = _settings_dump(SECRET_KEY=None, SECRET_KEY_FILE=str(key_file))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["DEBUG"] is False


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SECRET_KEY": None}, "SECRET_KEY"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        (
            {"SECRET_KEY": "dev-insecure-key-change-me-0123456789abcdefghijklmnopqrstuv"},
            "SECRET_KEY",
        ),
        ({"ALLOWED_HOSTS": None}, "ALLOWED_HOSTS"),
        ({"ALLOWED_HOSTS": "*"}, "ALLOWED_HOSTS"),
        ({"CACHE_URL": None}, "CACHE_URL"),
        ({"CACHE_URL": "locmem://"}, "CACHE_URL"),
        ({"CACHE_URL": "redis://127.0.0.1:6379/0"}, "same Redis database"),
    ],
)
def test_production_refuses_to_start_half_configured(env, message):
    result = _run("check", **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_django_env_production_requires_the_production_module():
    result = _run("check", DJANGO_SETTINGS_MODULE="prm.settings", DJANGO_ENV="production")
    assert result.returncode != 0
    assert "prm.settings_prod" in result.stderr


def test_no_settings_module_sets_the_totp_bypass_code():
    """AUTH-04: MFA_TOTP_INSECURE_BYPASS_CODE appears in no settings module."""
    import re

    assignment = re.compile(r"^\s*MFA_TOTP_INSECURE_BYPASS_CODE\s*=|setattr\(.*BYPASS_CODE", re.M)
    modules = [p for p in (ROOT / "prm").glob("settings*.py") if "browser" not in p.name]
    assert any(p.name == "settings_prod.py" for p in modules)
    offenders = [p.name for p in modules if assignment.search(p.read_text())]
    assert offenders == []
    from django.conf import settings

    assert not getattr(settings, "MFA_TOTP_INSECURE_BYPASS_CODE", None)
