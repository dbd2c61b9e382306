"""A real RFC 3161 time-stamping authority on loopback: OpenSSL's ``ts -reply`` behind a tiny
HTTP handler, with a throw-away CA and a TSA certificate (extended key usage timeStamping).

``tsa`` gives a running authority (``url``, ``ca_pem``, ``stop()``/``start()`` to take it down
and bring it back on the same port); the tokens it signs verify with ``openssl ts -verify``.
"""

from __future__ import annotations

import http.server
import shutil
import socket
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

_TSA_CONF = """\
[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
other_policies = 1.2.3.4.5
digests = sha256, sha512
accuracy = secs:1
ordering = yes
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
[ tsa_ext ]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature
extendedKeyUsage = critical,timeStamping
"""


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_tsa_keys(folder: Path) -> None:
    """A CA and a TSA certificate it signs, and the ``ts`` configuration, in ``folder``."""
    (folder / "tsa.cnf").write_text(_TSA_CONF.format(dir=folder))
    (folder / "serial").write_text("01\n")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
             "ca.pem", "-days", "30", "-subj", "/CN=evidock test CA", cwd=folder)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "tsa.key", "-out", "tsa.csr",
             "-subj", "/CN=evidock test TSA", cwd=folder)
    _openssl("x509", "-req", "-in", "tsa.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "tsa.pem", "-days", "30", "-extfile", "tsa.cnf",
             "-extensions", "tsa_ext", cwd=folder)


@dataclass
class Tsa:
    folder: Path
    port: int = 0
    requests: int = 0
    _server: http.server.ThreadingHTTPServer | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/tsa"

    @property
    def ca_pem(self) -> Path:
        return self.folder / "ca.pem"

    def start(self) -> None:
        tsa = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (the http.server API)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with tempfile.TemporaryDirectory(dir=tsa.folder) as tmp:
                    query, reply = Path(tmp) / "q.tsq", Path(tmp) / "r.tsr"
                    query.write_bytes(body)
                    done = subprocess.run(
                        ["openssl", "ts", "-reply", "-config", str(tsa.folder / "tsa.cnf"),
                         "-queryfile", str(query), "-out", str(reply)], capture_output=True)
                    if done.returncode:
                        self.send_error(500, done.stderr.decode(errors="replace")[:200])
                        return
                    data = reply.read_bytes()
                tsa.requests += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def tsa_keys(tmp_path_factory) -> Path:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed (tools/setup --test installs it)")
    folder = tmp_path_factory.mktemp("tsa")
    make_tsa_keys(folder)
    return folder


@pytest.fixture
def tsa(tsa_keys):
    authority = Tsa(tsa_keys)
    authority.start()
    yield authority
    authority.stop()
