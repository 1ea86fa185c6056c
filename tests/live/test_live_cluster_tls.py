"""TLS trust to a cluster: the kubeconfig's CA wins over REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE.

A real HTTPS server (Python's ``ssl`` on 127.0.0.1) stands in for the API server; its certificate is signed
by a CA made here with the openssl CLI. The kubeconfig carries that CA as ``certificate-authority-data``,
while the environment's bundle names another CA (what many CI and corporate machines set).
"""

from __future__ import annotations

import base64
import http.server
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from monitoring_conformance.api.http import API_SERVER_PROXY, Endpoint
from monitoring_conformance.api.prometheus import Prometheus
from monitoring_conformance.errors import EndpointError
from monitoring_conformance.targets.kubeconfig import kube_session

pytestmark = pytest.mark.live

OPENSSL_TIMEOUT = 30


def _openssl(*args: str) -> None:
    argv = ["openssl", *args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=OPENSSL_TIMEOUT, check=False)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr[-400:]}")


def _make_ca(folder: Path, name: str) -> tuple[Path, Path]:
    key, cert = folder / f"{name}.key", folder / f"{name}.crt"
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
             "-days", "1", "-subj", f"/CN={name}", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return key, cert


def _make_server_cert(folder: Path, ca_key: Path, ca_cert: Path) -> tuple[Path, Path]:
    key, csr, cert, ext = (folder / n for n in ("server.key", "server.csr", "server.crt", "server.ext"))
    ext.write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n", encoding="utf-8")
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
             "-subj", "/CN=apiserver")
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca_cert), "-CAkey", str(ca_key), "-CAcreateserial",
             "-out", str(cert), "-days", "1", "-extfile", str(ext))
    return key, cert


class _Handler(http.server.BaseHTTPRequestHandler):
    """Answers like Prometheus behind the service proxy: /-/ready and an instant query."""

    def do_GET(self) -> None:
        if self.path.endswith("/-/ready"):
            body, kind = b"Prometheus Server is Ready.\n", "text/plain"
        else:
            body = b'{"status":"success","data":{"resultType":"vector","result":[]}}'
            kind = "application/json"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pki")
    cluster_key, cluster_ca = _make_ca(folder, "cluster-ca")
    _, other_ca = _make_ca(folder, "corporate-ca")
    server_key, server_cert = _make_server_cert(folder, cluster_key, cluster_ca)
    return {"cluster_ca": cluster_ca, "other_ca": other_ca,
            "server_key": server_key, "server_cert": server_cert}


@pytest.fixture(scope="module")
def api_server(pki: dict[str, Path]) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki["server_cert"], pki["server_key"])
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _kubeconfig(folder: Path, server: str, ca: Path) -> str:
    data = base64.b64encode(ca.read_bytes()).decode()
    path = folder / "kubeconfig"
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters: [{{name: k, cluster: {{server: '{server}', certificate-authority-data: {data}}}}}]\n"
        "users: [{name: u, user: {token: tls-test-token}}]\n"
        "contexts: [{name: c, context: {cluster: k, user: u}}]\n",
        encoding="utf-8",
    )
    return str(path)


def _endpoint(kubeconfig: str) -> Endpoint:
    session, api = kube_session(kubeconfig, None)
    base = f"{api}/api/v1/namespaces/monitoring/services/http:prometheus:9090/proxy"
    return Endpoint(base, session=session, via=API_SERVER_PROXY, name="Prometheus", timeout=5.0)


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_kubeconfig_ca_wins_over_the_environment_bundle(
    api_server: str, pki: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.setenv(variable, str(pki["other_ca"]))
    endpoint = _endpoint(_kubeconfig(tmp_path, api_server, pki["cluster_ca"]))
    assert endpoint.get("/-/ready").text.startswith("Prometheus Server is Ready")
    # the same session through prometheus-api-client and through a bare session call
    assert Prometheus(endpoint).ready().startswith("Prometheus Server is Ready")
    assert endpoint.session.get(endpoint.url("/-/ready"), timeout=5).status_code == 200


def test_a_wrong_kubeconfig_ca_fails_even_when_the_environment_bundle_fits(
    api_server: str, pki: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pki["cluster_ca"]))
    endpoint = _endpoint(_kubeconfig(tmp_path, api_server, pki["other_ca"]))
    with pytest.raises(EndpointError, match="certificate verify failed"):
        endpoint.get("/-/ready")
    refused = r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"
    with pytest.raises(requests.exceptions.SSLError, match=refused):
        endpoint.session.get(endpoint.url("/-/ready"), timeout=5)
