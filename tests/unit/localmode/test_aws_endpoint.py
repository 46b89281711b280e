"""localmode.aws_endpoint: the unauthenticated local AWS endpoint answers requests to this machine only."""

from __future__ import annotations

from typing import Any

import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Response

from localmode.aws_endpoint import local_hosts_only


def _inner(environ: dict[str, Any], start_response: Any) -> Any:
    return Response("moto")(environ, start_response)


@pytest.mark.parametrize("host", ["127.0.0.1:3000", "localhost:3000", "LOCALHOST", "[::1]:3000"])
def test_requests_to_this_machine_reach_moto(host: str) -> None:
    response = Client(local_hosts_only(_inner)).get("/", headers={"Host": host})
    assert (response.status_code, response.get_data(as_text=True)) == (200, "moto")


@pytest.mark.parametrize("host", ["attacker.example:3000", "127.0.0.1.attacker.example", "", "[::2]:3000"])
def test_requests_by_another_name_are_refused(host: str) -> None:
    response = Client(local_hosts_only(_inner)).get("/", headers={"Host": host})
    assert response.status_code == 403
