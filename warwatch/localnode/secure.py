"""Security on for a local Elasticsearch node (``warwatch local-es start --engine elasticsearch
--secure``): TLS on HTTP with a CA and a node certificate made here (Python ``cryptography``),
the ``elastic`` user's bootstrap password in the node's keystore (``bin/elasticsearch-keystore``),
and API keys limited to warwatch's indices (``{prefix}*``) for warwatch to connect with.

Secrets live under ``<node dir>/secure/`` (root's, 0700; files 0600), never in the checkout:
``ca.crt`` (what clients trust: ``WARWATCH_ES_CA_CERTS``), ``elastic-password``, ``api-key``.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import os
import secrets
import ssl
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from warwatch.localnode.engines import HOST, LocalNodeError

SECURE_DIR = "secure"
CERT_DAYS = 825
#: lines for the node's yml (paths relative to its config dir, where the certificates are copied)
YML_LINES = (
    "xpack.security.enabled: true",
    "xpack.security.http.ssl.enabled: true",
    "xpack.security.http.ssl.key: certs/node.key",
    "xpack.security.http.ssl.certificate: certs/node.crt",
    "xpack.security.http.ssl.certificate_authorities: [certs/ca.crt]",
    "xpack.security.transport.ssl.enabled: false",  # one node (discovery.type single-node)
)


def secure_dir(ndir: Path) -> Path:
    return ndir / SECURE_DIR


def _write_secret(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def _cert(subject: str, key: Any, issuer_key: Any, issuer: Any, *, ca: bool) -> Any:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer or name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=CERT_DAYS))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]), critical=False)
    return builder.sign(issuer_key or key, hashes.SHA256())


def ensure_material(ndir: Path) -> dict[str, bytes]:
    """The CA, the node's key and certificate (127.0.0.1, localhost) and the elastic password,
    made once and kept under ``ndir/secure``; ``{file name: bytes}`` for the config dir."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    sdir = secure_dir(ndir)
    sdir.mkdir(mode=0o700, exist_ok=True)
    os.chmod(sdir, 0o700)
    names = ("ca.crt", "node.key", "node.crt", "elastic-password")
    if not all((sdir / n).is_file() for n in names):
        ca_key, node_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
        ca = _cert("warwatch local CA", ca_key, None, None, ca=True)
        node = _cert(HOST, node_key, ca_key, ca.subject, ca=False)
        pem = serialization.Encoding.PEM
        _write_secret(sdir / "ca.crt", ca.public_bytes(pem))
        _write_secret(sdir / "node.crt", node.public_bytes(pem))
        _write_secret(sdir / "node.key", node_key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                                 serialization.NoEncryption()))
        _write_secret(sdir / "elastic-password", secrets.token_urlsafe(24).encode())
    return {f"certs/{n}": (sdir / n).read_bytes() for n in ("ca.crt", "node.key", "node.crt")}


def password(ndir: Path, user: str = "elastic") -> str:
    return (secure_dir(ndir) / f"{user}-password").read_text(encoding="utf-8").strip()


#: the file-realm user warwatch connects as when API keys cannot be made (see add_file_user)
FILE_USER = "warwatch"


def roles_yml(prefix: str) -> bytes:
    """The ``warwatch`` role: what the pipeline does (templates, health), on ``{prefix}*`` only."""
    return (f"{FILE_USER}:\n  cluster: [monitor, manage_index_templates]\n  indices:\n"
            f"    - names: ['{prefix}*']\n      privileges: [all]\n").encode()


def add_file_user(home: Path, conf: Path, java_home: Path, ndir: Path, ids: tuple[int, int] | None) -> None:
    """The ``warwatch`` user of the file realm with the ``warwatch`` role (roles.yml). The
    integ-test-zip cannot create the ``.security`` index (its mapping needs analysis-common's
    ``pattern_capture``, not in that distribution), so API keys and native users fail there
    with 400; file-realm users need no index."""
    pw_file = secure_dir(ndir) / f"{FILE_USER}-password"
    if not pw_file.is_file():
        _write_secret(pw_file, secrets.token_urlsafe(24).encode())
    tool = str(home / "bin" / "elasticsearch-users")
    _run_tool([tool, "useradd", FILE_USER, "-p", password(ndir, FILE_USER), "-r", FILE_USER], None, home, conf,
              java_home, ids)


def set_bootstrap_password(home: Path, conf: Path, java_home: Path, ndir: Path,
                           ids: tuple[int, int] | None) -> None:
    """``bootstrap.password`` in the node's keystore (created when missing), as the node user."""
    tool = str(home / "bin" / "elasticsearch-keystore")
    if not (conf / "elasticsearch.keystore").exists():
        _run_tool([tool, "create"], None, home, conf, java_home, ids)
    _run_tool([tool, "add", "-x", "-f", "bootstrap.password"], password(ndir), home, conf, java_home, ids)


def _run_tool(cmd: list[str], stdin: str | None, home: Path, conf: Path, java_home: Path,
              ids: tuple[int, int] | None) -> None:
    """One of the distribution's CLI tools on the node's config dir, as the node user."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "ES_PATH_CONF": str(conf),
           "ES_JAVA_HOME": str(java_home), "LANG": "C.UTF-8", "HOME": str(conf)}
    kw: dict[str, Any] = {"user": ids[0], "group": ids[1], "extra_groups": []} if ids else {}
    done = subprocess.run(cmd, input=stdin, env=env, capture_output=True, text=True, timeout=120,  # noqa: S603
                          check=False, cwd=home, **kw)
    if done.returncode != 0:
        raise LocalNodeError(f"{Path(cmd[0]).name} {cmd[1]} failed: {(done.stderr or done.stdout).strip()[-400:]}")


def request(port: int, ndir: Path, method: str, path: str, body: Any = None, *,
            timeout: float = 10.0) -> tuple[int, Any]:
    """A request to the secured node as ``elastic`` over TLS (the CA made here); status, JSON."""
    ctx = ssl.create_default_context(cafile=str(secure_dir(ndir) / "ca.crt"))
    auth = base64.b64encode(f"elastic:{password(ndir)}".encode()).decode()
    req = urllib.request.Request(f"https://{HOST}:{port}{path}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": f"Basic {auth}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=ctx) as resp:  # noqa: S310 - loopback
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as exc:
        return exc.code, None


def api_key_body(prefix: str, name: str = "warwatch") -> dict[str, Any]:
    """An API key that may do everything warwatch does, on ``{prefix}*`` indices only."""
    return {"name": name, "role_descriptors": {"warwatch": {
        "cluster": ["monitor", "manage_index_templates"],
        "indices": [{"names": [f"{prefix}*"], "privileges": ["all"]}],
    }}}


def create_api_key(port: int, ndir: Path, prefix: str) -> str:
    """A new API key limited to ``{prefix}*``; its encoded form (``WARWATCH_ES_API_KEY``), also
    written to ``ndir/secure/api-key`` (0600)."""
    status, body = request(port, ndir, "POST", "/_security/api_key", api_key_body(prefix))
    if status != 200 or not isinstance(body, dict) or "encoded" not in body:
        raise LocalNodeError(f"creating an API key on port {port} failed ({status})")
    key = str(body["encoded"])
    _write_secret(secure_dir(ndir) / "api-key", key.encode())
    return key


def connect_hint(port: int, ndir: Path) -> str:
    """How warwatch connects to the secured node (no secret printed: it stays in its 0600 file):
    the API key when one could be made, else the file-realm user limited the same way."""
    sdir = secure_dir(ndir)
    cred = (f"export WARWATCH_ES_API_KEY=\"$(cat {sdir / 'api-key'})\"" if (sdir / "api-key").is_file() else
            f"export WARWATCH_ES_USER={FILE_USER} WARWATCH_ES_PASSWORD=\"$(cat {sdir / (FILE_USER + '-password')})\"")
    return f"export WARWATCH_ES_URL=https://{HOST}:{port}\nexport WARWATCH_ES_CA_CERTS={sdir / 'ca.crt'}\n{cred}"
