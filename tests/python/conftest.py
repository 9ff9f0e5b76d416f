"""Fixtures for the HTTP contract tests: a real `candor demo` server per storage backend, and a
client that checks every answer against the OpenAPI document the server itself serves.

Environment:
  CANDOR_BIN                 the candor executable (default /work/main/.build/debug/candor)
  CANDOR_TEST_POSTGRES_URL   postgres://user[:password]@host:port/db of a server where a fresh database
                             may be created; when set, every test also runs on PostgreSQL
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests
import yaml
from openapi_core import Config, OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

ROOT = Path(__file__).resolve().parents[2]
SPEC_PATH = ROOT / "Sources" / "CandorServer" / "Resources" / "openapi.yaml"
CANDOR_BIN = os.environ.get("CANDOR_BIN", str(ROOT / ".build" / "debug" / "candor"))
POSTGRES_URL = os.environ.get("CANDOR_TEST_POSTGRES_URL")
SUBJECTS = 200
STARTUP_SECONDS = 180

_MISSING = object()


def _plain(value: bytes | str, **parameters: str) -> str:
    return value.decode(parameters.get("charset", "utf-8")) if isinstance(value, bytes) else value


def _json(value: bytes | str, **parameters: str) -> Any:
    return json.loads(value)


# Media types openapi-core does not know (it gets media type parameters such as charset as keywords);
# everything else uses its own deserializers.
MEDIA_DESERIALIZERS = {
    "application/problem+json": _json,
    "application/yaml": _plain,
    "text/css": _plain,
    "text/javascript": _plain,
    "text/csv": _plain,
}


def build_openapi(document: dict) -> OpenAPI:
    return OpenAPI.from_dict(document, config=Config(extra_media_type_deserializers=MEDIA_DESERIALIZERS))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------- PostgreSQL databases


def create_database(admin_url: str) -> tuple[str, str]:
    """Creates a fresh, empty database on the server of `admin_url`; returns (name, url)."""
    import psycopg

    name = "candor_api_" + secrets.token_hex(6)
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(admin_url)
    return name, urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def drop_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --------------------------------------------------------------------------- the server


@dataclass
class Server:
    backend: str
    base_url: str
    data_dir: Path
    keys: dict[str, str]
    process: subprocess.Popen
    log_path: Path
    operators: list[dict[str, str]] = field(default_factory=list)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def start_server(backend: str, data_dir: Path, database_url: str | None, extra_args: tuple[str, ...] = ()) -> Server:
    if not Path(CANDOR_BIN).exists():
        pytest.fail(f"candor binary not found at {CANDOR_BIN}; build it with `swift build` or set CANDOR_BIN")
    port = free_port()
    # Webhook receivers in the tests listen on loopback, which the delivery network guard refuses by default.
    command = [CANDOR_BIN, "demo", "--data-dir", str(data_dir), "--port", str(port), "--subjects", str(SUBJECTS),
               "--delivery-allow-private-networks", "127.0.0.1/32", *extra_args]
    if database_url:
        command += ["--database-url", database_url]
    log_path = data_dir / "server.log"
    log = open(log_path, "wb")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CANDOR_")}
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environment, cwd=data_dir)
    log.close()
    base = f"http://127.0.0.1:{port}"
    server = Server(backend, base, data_dir, {}, process, log_path)
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        if process.poll() is not None:
            pytest.fail(f"candor demo ({backend}) exited with {process.returncode}:\n{server.log_tail()}")
        try:
            if requests.get(base + "/readyz", timeout=2).status_code == 200:
                break
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            stop_server(server)
            pytest.fail(f"candor demo ({backend}) was not ready within {STARTUP_SECONDS} s:\n{server.log_tail()}")
        time.sleep(0.2)
    server.keys = json.loads((data_dir / "demo-keys.json").read_text())
    # The console's demo operators (email, password per team) are kept apart: keys are API key secrets only.
    server.operators = server.keys.pop("operators", [])
    return server


def stop_server(server: Server) -> None:
    process = server.process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def server(request, tmp_path_factory) -> Server:
    """A running `candor demo` with 200 synthetic people, on SQLite and (when configured) PostgreSQL."""
    backend = request.param
    database_url = None
    database_name = None
    if backend == "postgres":
        if not POSTGRES_URL:
            pytest.skip("CANDOR_TEST_POSTGRES_URL is not set")
        database_name, database_url = create_database(POSTGRES_URL)
    data_dir = tmp_path_factory.mktemp(f"candor-{backend}")
    started = start_server(backend, data_dir, database_url)
    yield started
    stop_server(started)
    if database_name:
        drop_database(POSTGRES_URL, database_name)


# --------------------------------------------------------------------------- the checked client


class ContractError(AssertionError):
    pass


@dataclass
class Api:
    """A client for one server. Every answer is validated against the served OpenAPI document
    (status, content type, headers, body), and every problem document is checked for its shape."""

    server: Server
    openapi: OpenAPI
    document: dict
    session: requests.Session = field(default_factory=requests.Session)
    covered: set[tuple[str, str]] = field(default_factory=set)
    _templates: list[tuple[re.Pattern, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        paths = sorted(self.document["paths"], key=lambda p: (p.count("{"), -len(p)))
        for path in paths:
            segments = ["[^/]+" if part.startswith("{") else re.escape(part) for part in path.split("/")]
            self._templates.append((re.compile("^" + "/".join(segments) + "$"), path))

    @property
    def keys(self) -> dict[str, str]:
        return self.server.keys

    def template(self, path: str) -> str | None:
        for pattern, template in self._templates:
            if pattern.match(path):
                return template
        return None

    def call(
        self,
        method: str,
        path: str,
        *,
        key: str | None = "admin",
        purpose: str | None = None,
        json_body: Any = _MISSING,
        data: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        expect: int | None = None,
        validate_request: bool | None = None,
    ) -> requests.Response:
        sent = {}
        if key is not None:
            sent["Authorization"] = "Bearer " + self.keys.get(key, key)
        if purpose is not None:
            sent["Candor-Purpose"] = purpose
        sent.update(headers or {})
        kwargs: dict[str, Any] = {"headers": sent, "params": params, "timeout": 60}
        if json_body is not _MISSING:
            kwargs["json"] = json_body
        elif data is not None:
            kwargs["data"] = data
        response = self.session.request(method, self.server.base_url + path, **kwargs)
        if expect is not None:
            assert response.status_code == expect, (
                f"{method} {path}: expected {expect}, got {response.status_code}: {response.text[:2000]}")
        if validate_request is None:
            validate_request = response.status_code < 400
        self.check(response, validate_request=validate_request)
        return response

    def check(self, response: requests.Response, *, validate_request: bool = False) -> None:
        request = RequestsOpenAPIRequest(response.request)
        path = urlsplit(response.request.url).path
        template = self.template(path)
        assert template is not None, f"{path} is not in the OpenAPI document"
        if validate_request:
            try:
                self.openapi.validate_request(request)
            except Exception as error:  # noqa: BLE001 - report any validation failure the same way
                raise ContractError(f"request {response.request.method} {path} breaks the contract: {describe(error)}") from error
        try:
            self.openapi.validate_response(request, RequestsOpenAPIResponse(response))
        except Exception as error:  # noqa: BLE001
            raise ContractError(
                f"response {response.status_code} to {response.request.method} {path} breaks the contract: "
                f"{describe(error)}\nbody: {response.text[:2000]}") from error
        self.covered.add((response.request.method.lower(), template))
        content_type = response.headers.get("Content-Type", "")
        # Headers every answer carries, errors included.
        assert response.headers.get("X-Content-Type-Options") == "nosniff", f"{path} {response.status_code}: no nosniff"
        if template not in ("/static/candor.css", "/.well-known/gpc.json", "/embed.js", "/embed.css"):
            assert response.headers.get("Cache-Control") == "no-store", f"{path} {response.status_code}: cacheable"
        if response.status_code >= 400:
            assert content_type == "application/problem+json", content_type
            body = response.json()
            assert body["status"] == response.status_code
            assert body["type"].startswith("urn:candor:problem:")
        elif template.startswith("/v1/"):
            if template in ("/v1/requests", "/v1/requests.csv") and content_type.startswith("text/csv"):
                assert content_type == "text/csv; charset=utf-8", content_type
            else:
                assert content_type == "application/json", content_type

    def problem(self, response: requests.Response, status: int, kind: str, field_name: str | None = None) -> dict:
        """Asserts a problem document of `kind` (the last part of its type) naming `field_name`."""
        assert response.status_code == status, f"expected {status}, got {response.status_code}: {response.text}"
        body = response.json()
        assert body["type"] == f"urn:candor:problem:{kind}", body
        if field_name is not None:
            fields = [error["field"] for error in body.get("errors", [])]
            assert field_name in fields, f"expected an error naming {field_name!r}, got {fields}: {body}"
        return body


def describe(error: Exception) -> str:
    parts = [f"{type(error).__name__}: {error}"]
    for inner in getattr(error, "schema_errors", None) or []:
        parts.append(f"  - {'.'.join(str(p) for p in inner.absolute_path)}: {inner.message}")
    cause = error.__cause__
    while cause is not None:
        parts.append(f"  caused by {type(cause).__name__}: {cause}")
        for inner in getattr(cause, "schema_errors", None) or []:
            parts.append(f"  - {'/'.join(str(p) for p in inner.absolute_path)}: {inner.message}")
        cause = cause.__cause__
    return "\n".join(parts)


@pytest.fixture(scope="session")
def spec_document() -> dict:
    """The OpenAPI document as checked in."""
    return yaml.safe_load(SPEC_PATH.read_text())


@pytest.fixture(scope="session")
def api(server) -> Api:
    """The checked client of one server, validating against the document that server serves."""
    response = requests.get(server.base_url + "/openapi.yaml", timeout=30)
    assert response.status_code == 200
    document = yaml.safe_load(response.text)
    return Api(server, build_openapi(document), document)


def page_left(element):
    """A wait condition: the page that held `element` was replaced. Chromium sometimes answers a probe of
    an element from a page being torn down with a generic inspector error ("node does not belong to the
    document") instead of a stale-element error; both mean the old page is gone."""
    from selenium.common.exceptions import WebDriverException

    def check(_driver) -> bool:
        try:
            element.is_enabled()
            return False
        except WebDriverException:
            return True

    return check
