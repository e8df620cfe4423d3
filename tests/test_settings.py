"""Production settings refuse to start without their secrets unless DJANGO_DEBUG=1."""

import subprocess
import sys

import pytest

PROBE = "import django; django.setup(); print('started')"


def start(env: dict) -> subprocess.CompletedProcess:
    base = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "nectar_portal.settings.production"}
    return subprocess.run([sys.executable, "-c", PROBE], env={**base, **env}, capture_output=True,
                          text=True, timeout=60, check=False)


@pytest.mark.parametrize("missing", ["DJANGO_SECRET_KEY", "FIELD_ENCRYPTION_KEY"])
def test_refuses_to_start_without_a_required_secret(missing):
    env = {"DJANGO_SECRET_KEY": "x" * 50,
           "FIELD_ENCRYPTION_KEY": "dGVzdC1rZXktb25lLTAwMDAwMDAwMDAwMDAwMDAwMDA="}
    del env[missing]
    result = start(env)
    assert result.returncode != 0
    assert f"{missing} is required when DJANGO_DEBUG is off" in result.stderr


def test_starts_with_both_secrets():
    result = start({"DJANGO_SECRET_KEY": "x" * 50,
                    "FIELD_ENCRYPTION_KEY": "dGVzdC1rZXktb25lLTAwMDAwMDAwMDAwMDAwMDAwMDA="})
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


def test_debug_starts_without_secrets_and_warns():
    result = start({"DJANGO_DEBUG": "1"})
    assert result.returncode == 0, result.stderr
    assert "DJANGO_SECRET_KEY is not set" in result.stderr
