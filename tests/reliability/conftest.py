"""Fixtures of the reliability suite: the secrets ledger, service instances of its own, figures.

Loaded for tests/reliability only, but its collection hook runs for the whole session: it
attaches the log collector and the ledger's receivers before the first test of ANY folder runs,
and moves the secrets scan (test_secrets.py::test_no_secret_in_clear_anywhere) to the very end.
"""

from __future__ import annotations

import logging

import pytest

from .audit import HANDLER, LEDGER, dump_text_columns, record_artifact

SCAN_TEST = "test_no_secret_in_clear_anywhere"
_installed = False


def _ledger_tenant(sender, instance, **kwargs):
    LEDGER.add(instance.client_secret, instance.secret_token, instance.verification_token)


def _ledger_connection(sender, instance, **kwargs):
    LEDGER.add(instance.access_token, instance.refresh_token)


def _install_collectors():
    global _installed
    if _installed:
        return
    _installed = True
    from django.db.models.signals import post_save

    from tenants.models import Tenant
    from zoom_integration.models import ZoomConnection

    post_save.connect(_ledger_tenant, sender=Tenant, weak=False,
                      dispatch_uid="reliability-ledger-tenant")
    post_save.connect(_ledger_connection, sender=ZoomConnection, weak=False,
                      dispatch_uid="reliability-ledger-connection")
    import os
    import shutil

    from .audit import AUDIT_ROOT

    # Artifacts of finished sessions go; those of a session still running stay.
    for folder in AUDIT_ROOT.glob("session-*"):
        pid = folder.name.removeprefix("session-")
        if not (pid.isdigit() and os.path.exists(f"/proc/{pid}")):
            shutil.rmtree(folder, ignore_errors=True)
    logging.getLogger().addHandler(HANDLER)
    # The portal's own DEBUG records too: a secret in a debug line leaks the day someone sets
    # LOG_LEVEL=DEBUG. (Libraries stay at INFO: their debug chatter would slow the suite.)
    for name in ("zoom_integration", "tenants", "portal_security", "nectar_portal"):
        logging.getLogger(name).setLevel(logging.DEBUG)


def pytest_collection_modifyitems(session, config, items):
    if not any("tests/reliability/" in item.nodeid for item in items):
        return
    _install_collectors()
    last = [item for item in items if item.name == SCAN_TEST]
    items[:] = [item for item in items if item.name != SCAN_TEST] + last


@pytest.fixture(autouse=True)
def _dump_database_after_test(request):
    """After each database test here, keep every text column for the final secrets scan."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None:
        yield
        return
    request.getfixturevalue("_django_db_helper")
    yield
    from django.db import connection

    try:
        text = dump_text_columns(connection)
    except Exception as exc:  # a broken transaction (e.g. a fault test): note it, go on
        text = f"dump failed: {type(exc).__name__}"
    if text:
        record_artifact("database", request.node.name, text)


@pytest.fixture
def ledger():
    return LEDGER


# --- Service instances of our own (fault tests) ------------------------------------------------

TEMPLATE_DB = "nectar_fault_template"


@pytest.fixture(scope="session")
def pg_cluster():
    """A PostgreSQL cluster of the suite's own, with a template database holding the schema."""
    from .stack import PostgresCluster, Stack

    cluster = PostgresCluster()
    try:
        cluster.start()
        cluster.create_database(TEMPLATE_DB)
        Stack(database_url=cluster.url(TEMPLATE_DB), redis_url="redis://127.0.0.1:1/0",
              ).create_schema()
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def fault_db(pg_cluster, request):
    """A fresh database (from the template) in the suite's own cluster; its dump is kept."""
    name = f"fault_{request.node.name[:40].lower()}".replace("[", "_").replace("]", "_")
    pg_cluster.create_database(name, template=TEMPLATE_DB)
    yield name
    try:
        record_artifact("database", f"pg_dump-{name}", pg_cluster.dump(name))
    except Exception as exc:  # the test may have left the cluster stopped
        record_artifact("database", f"pg_dump-{name}-failed", repr(type(exc)))


@pytest.fixture
def redis_instance():
    from .stack import RedisInstance

    instance = RedisInstance()
    instance.start()
    try:
        yield instance
    finally:
        instance.stop()
