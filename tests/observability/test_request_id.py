"""X-Request-ID: the caller's when sane, a fresh one otherwise, on every response."""

import re

import pytest

pytestmark = pytest.mark.django_db


def test_a_sane_caller_id_is_answered_back(client):
    response = client.get("/healthz", headers={"x-request-id": "lb-7f3a.9:abc_DEF-1"})
    assert response["X-Request-ID"] == "lb-7f3a.9:abc_DEF-1"


@pytest.mark.parametrize("sent", [None, "", "x" * 129, "bad id", "a\r\nSet-Cookie: x=1",
                                  "<script>", "-starts-with-dash", "é"])
def test_anything_else_gets_a_fresh_id(client, sent):
    headers = {} if sent is None else {"x-request-id": sent}
    response = client.get("/healthz", headers=headers)
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


def test_every_answer_carries_one_even_a_404_on_an_unknown_host(client):
    response = client.post("/zoom/event", b"{}", content_type="application/json",
                           headers={"host": "unknown.example"})
    assert response.status_code == 404
    assert response["X-Request-ID"]
    first, second = client.get("/healthz"), client.get("/healthz")
    assert first["X-Request-ID"] != second["X-Request-ID"]
