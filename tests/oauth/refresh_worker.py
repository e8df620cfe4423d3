"""A separate worker process for the two-process refresh test (run with `python -m`).

Usage: python -m tests.oauth.refresh_worker SLUG THREADS, with DATABASE_URL pointing at the test
database and SANDBOX_URL at the sandbox. Prints "ready", waits for a line on stdin (so both
processes start together), calls access_token_get from THREADS threads, prints a JSON list.
"""

import json
import os
import sys
import threading

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nectar_portal.settings.test")
django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from tenants.models import Tenant  # noqa: E402
from zoom_integration.oauth import access_token_get  # noqa: E402

# Test settings pin the real Zoom hosts; point this process at the sandbox instead.
settings.ZOOM_OAUTH_BASE_URL = os.environ["SANDBOX_URL"]
settings.ZOOM_API_BASE_URL = os.environ["SANDBOX_URL"] + "/v2"


def main() -> None:
    slug, threads = sys.argv[1], int(sys.argv[2])
    tenant = Tenant.objects.get(slug=slug)
    connection.close()
    print("ready", flush=True)
    sys.stdin.readline()
    results: list[str] = []
    barrier = threading.Barrier(threads)

    def run() -> None:
        try:
            barrier.wait()
            results.append(access_token_get(tenant=tenant))
        except Exception as exc:  # reported to the test, which fails on it
            results.append(f"error {type(exc).__name__}: {exc}")
        finally:
            connection.close()

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    print(json.dumps(results), flush=True)


if __name__ == "__main__":
    main()
