"""The token refresh takes the connection's row lock and decides again under it.

Zoom refresh tokens are single-use: two workers refreshing at once would spend the same token
and one of them would lock the customer out. So `access_token_get` reads the connection, and
only when a refresh looks due it locks the row (`SELECT ... FOR UPDATE`, with a lock timeout)
and reads the expiry again: a refresher that finished meanwhile has already stored a fresh
token, which is then returned without calling Zoom. These tests hold that at unit level: the
SQL sent, and a concurrent refresh committed from another database connection between the
first read and the lock.
"""

import threading
from datetime import timedelta

import pytest
import responses
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import TenantFactory
from zoom_integration import oauth
from zoom_integration.models import ConnectionState, ZoomConnection

TOKEN_URL = "https://zoom.us/oauth/token"
TABLE = ZoomConnection._meta.db_table


def token_body(access, refresh):
    return {"access_token": access, "token_type": "bearer", "refresh_token": refresh,
            "expires_in": 3599, "scope": "user:read:list_users:admin dashboard:read:meeting:admin",
            "api_url": "https://api.zoom.us"}


def connect(tenant, *, expires_in: int) -> ZoomConnection:
    return ZoomConnection.objects.create(
        tenant=tenant, state=ConnectionState.CONNECTED, access_token="access-old",
        refresh_token="refresh-old",
        access_token_expires_at=timezone.now() + timedelta(seconds=expires_in))


def connection_selects(queries) -> list[str]:
    return [q["sql"] for q in queries
            if q["sql"].lstrip().upper().startswith("SELECT") and f'"{TABLE}"' in q["sql"]]


@pytest.mark.django_db
@responses.activate
def test_a_due_refresh_locks_the_row_and_reads_it_again_under_the_lock():
    tenant = TenantFactory()
    connect(tenant, expires_in=oauth.REFRESH_MARGIN_SECONDS - 30)
    responses.add(responses.POST, TOKEN_URL, json=token_body("access-new", "refresh-new"))

    with CaptureQueriesContext(connection) as captured:
        assert oauth.access_token_get(tenant=tenant) == "access-new"

    selects = connection_selects(captured.captured_queries)
    assert len(selects) == 2, selects
    first, under_lock = selects
    assert "FOR UPDATE" not in first.upper()  # the cheap read that finds the token due
    assert under_lock.upper().rstrip().endswith("FOR UPDATE")  # the second read, locked
    sql = [q["sql"] for q in captured.captured_queries]
    lock_at = sql.index(under_lock)
    # A bounded wait for the lock, set in the same transaction before taking it.
    timeouts = [i for i, s in enumerate(sql) if s.upper().startswith("SET LOCAL LOCK_TIMEOUT")]
    assert timeouts and timeouts[-1] < lock_at
    # The rotated pair is written after the lock, in the same transaction.
    updates = [i for i, s in enumerate(sql)
               if s.upper().startswith("UPDATE") and f'"{TABLE}"' in s]
    assert updates and updates[0] > lock_at
    assert len(responses.calls) == 1


@pytest.mark.django_db
@responses.activate
def test_a_fresh_token_takes_no_lock_and_calls_nobody():
    tenant = TenantFactory()
    connect(tenant, expires_in=3000)
    with CaptureQueriesContext(connection) as captured:
        assert oauth.access_token_get(tenant=tenant) == "access-old"
    assert not any("FOR UPDATE" in q["sql"].upper() for q in captured.captured_queries)
    assert len(responses.calls) == 0


@pytest.mark.django_db(transaction=True)
@responses.activate
def test_a_refresh_committed_by_another_worker_before_the_lock_is_used_not_repeated(
        monkeypatch):
    """Worker 1 finds the token due; before it gets the lock, worker 2 (another database
    connection) refreshes and commits. Worker 1 must read the new expiry under the lock and
    return worker 2's token, sending nothing to Zoom (the old refresh token is already spent)."""
    tenant = TenantFactory()
    connect(tenant, expires_in=oauth.REFRESH_MARGIN_SECONDS - 30)
    responses.add(responses.POST, TOKEN_URL, status=400,
                  json={"reason": "Invalid Token!", "error": "invalid_grant"})
    real_lock = oauth._lock_connection
    other_worker_ran = []

    def other_worker():
        try:
            ZoomConnection.objects.filter(tenant_id=tenant.pk).update(
                access_token="access-from-worker-2", refresh_token="refresh-from-worker-2",
                access_token_expires_at=timezone.now() + timedelta(hours=1))
            other_worker_ran.append(True)
        finally:
            connection.close()  # this thread's own connection

    def lock_after_another_refresh(tenant_arg):
        thread = threading.Thread(target=other_worker)
        thread.start()
        thread.join(timeout=30)
        assert other_worker_ran, "the other worker's update did not commit"
        return real_lock(tenant_arg)

    monkeypatch.setattr(oauth, "_lock_connection", lock_after_another_refresh)

    assert oauth.access_token_get(tenant=tenant) == "access-from-worker-2"
    assert len(responses.calls) == 0  # the spent refresh token was not sent
    conn = ZoomConnection.objects.get(tenant=tenant)
    assert conn.state == ConnectionState.CONNECTED
    assert (conn.access_token, conn.refresh_token) == ("access-from-worker-2",
                                                       "refresh-from-worker-2")


@pytest.mark.django_db(transaction=True)
@responses.activate
def test_a_rejected_token_already_replaced_by_another_worker_is_not_refreshed_again(
        monkeypatch):
    """The same race after a 401: worker 2 has replaced the rejected token; worker 1 gets the
    replacement under the lock instead of spending the new refresh token."""
    tenant = TenantFactory()
    connect(tenant, expires_in=3000)
    responses.add(responses.POST, TOKEN_URL, json=token_body("access-3", "refresh-3"))
    real_lock = oauth._lock_connection

    def lock_after_another_refresh(tenant_arg):
        def other_worker():
            try:
                ZoomConnection.objects.filter(tenant_id=tenant.pk).update(
                    access_token="access-2", refresh_token="refresh-2")
            finally:
                connection.close()
        thread = threading.Thread(target=other_worker)
        thread.start()
        thread.join(timeout=30)
        return real_lock(tenant_arg)

    monkeypatch.setattr(oauth, "_lock_connection", lock_after_another_refresh)
    assert oauth.access_token_get(tenant=tenant, rejected_token="access-old") == "access-2"
    assert len(responses.calls) == 0
