"""`tenant_upsert`: secrets only on stdin, a summary without secrets, exit 2 on bad input."""

import io
import json
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tenants.models import Tenant, TenantDomain
from tests.factories import TenantFactory

pytestmark = pytest.mark.django_db

CREDENTIALS = {
    "client_id": "AbCdEfGhIjKlMnOp1234",
    "client_secret": "sEcReTvAlUe0123456789abcdef",
    "secret_token": "wHsEcReTtOkEn98765abcd",
    "installation_url": "https://zoom.us/oauth/authorize?response_type=code"
                        "&client_id=AbCdEfGhIjKlMnOp1234&redirect_uri=x",
}


def run(*args, stdin: str = ""):
    out = io.StringIO()
    call_command("tenant_upsert", *args, stdin=io.StringIO(stdin), stdout=out)
    return out.getvalue()


def test_creates_tenant_with_domains_and_prints_no_secret():
    output = run("--slug", "acme", "--name", "Acme", "--domain", "acme.portal.test",
                 "--webhook-domain", "hooks.acme.test", stdin=json.dumps(CREDENTIALS))
    tenant = Tenant.objects.get(slug="acme")
    assert tenant.client_secret == CREDENTIALS["client_secret"]
    assert tenant.domains.get(is_primary=True).domain == "acme.portal.test"
    assert tenant.domains.get(is_webhook=True).domain == "hooks.acme.test"
    assert "created tenant 'acme'" in output
    assert "https://acme.portal.test/adminapi/zoom/oauth/authorize" in output
    assert "https://hooks.acme.test/zoom/event" in output
    assert CREDENTIALS["client_secret"] not in output
    assert CREDENTIALS["secret_token"] not in output


def test_update_keeps_absent_secrets():
    TenantFactory(slug="acme", client_secret="OriginalSecret123456")
    run("--slug", "acme", stdin=json.dumps({"secret_token": "NewSecretToken12345"}))
    tenant = Tenant.objects.get(slug="acme")
    assert tenant.client_secret == "OriginalSecret123456"
    assert tenant.secret_token == "NewSecretToken12345"


@pytest.mark.parametrize("stdin, message", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "must be a JSON object"),
    ('{"password": "x"}', "unknown credential key"),
    ('{"client_id": "bad id with spaces"}', "Client ID"),
    ('{"installation_url": "https://evil.example/oauth/authorize?client_id=x"}',
     "Installation URL"),
])
def test_bad_input_changes_nothing(stdin, message):
    with pytest.raises(CommandError, match=message) as excinfo:
        run("--slug", "acme", "--domain", "acme.portal.test", stdin=stdin)
    assert excinfo.value.returncode == 2
    assert not Tenant.objects.exists()
    assert not TenantDomain.objects.exists()


def test_duplicate_hostname_is_refused_and_nothing_written():
    TenantFactory(slug="first")  # owns first.portal.test
    with pytest.raises(CommandError, match="already belongs to tenant 'first'") as excinfo:
        run("--slug", "second", "--domain", "first.portal.test", stdin=json.dumps(CREDENTIALS))
    assert excinfo.value.returncode == 2
    assert not Tenant.objects.filter(slug="second").exists()


def test_invalid_hostname_is_refused():
    with pytest.raises(CommandError, match="hostname") as excinfo:
        run("--slug", "acme", "--domain", "https://acme.test/x")
    assert excinfo.value.returncode == 2
    assert not Tenant.objects.exists()


def test_command_line_gives_exit_status_2_and_one_line(tmp_path):
    """As a script sees it: exit status 2, one line on stderr, no traceback."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    env = {"DJANGO_SETTINGS_MODULE": "nectar_portal.settings.test", "PATH": "/usr/bin:/bin",
           "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"}
    result = subprocess.run([sys.executable, "manage.py", "tenant_upsert", "--slug", "acme"],
                            input="{oops", capture_output=True, text=True, env=env, timeout=60,
                            check=False)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "not valid JSON" in lines[0]
    assert "Traceback" not in result.stderr
