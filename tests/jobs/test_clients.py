"""Who a request comes from: the connection, or behind trusted proxies the Nth address from the right."""

import pytest
from django.test import RequestFactory

from jobs.clients import client_address


def request(remote="203.0.113.9", forwarded=None):
    headers = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **headers)


def test_without_trusted_proxies_the_connection_is_the_client_and_the_header_is_ignored(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_address(request(forwarded="198.51.100.1")) == "203.0.113.9"


@pytest.mark.parametrize(("proxies", "forwarded", "client"), [
    (1, "198.51.100.7", "198.51.100.7"),
    (1, "10.9.9.9, 198.51.100.7", "198.51.100.7"),  # the left entry was written by the client: not believed
    (2, "10.9.9.9, 198.51.100.7, 172.16.0.2", "198.51.100.7"),
    (2, "198.51.100.7", "203.0.113.9"),  # fewer hops than proxies: it did not come through them
    (1, "not-an-address", "203.0.113.9"),
    (1, "2001:DB8::1", "2001:db8::1"),
])
def test_behind_trusted_proxies_the_nth_address_from_the_right_is_the_client(settings, proxies, forwarded, client):
    settings.TRUSTED_PROXY_COUNT = proxies
    assert client_address(request(forwarded=forwarded)) == client


def test_a_request_with_no_usable_address_has_none(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_address(request(remote="")) is None
