"""s3proxy (``org.gaul:s3proxy``): a real S3 API server over a local directory (Java), fetched
from Maven Central into ``.local/s3proxy/`` (pinned SHA-256) and run on 127.0.0.1 with the
filesystem backend and AWS v2/v4 signatures checked against a random key."""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

COORDINATES = "org.gaul:s3proxy:2.6.0:jar:jar-with-dependencies"
JAR = "s3proxy-2.6.0-jar-with-dependencies.jar"
SHA256 = "12e5e88d805cfed07f7d88b4a44a0d8ecb9f9d3cebeb544bb34fbc4ded1049d8"
START_TIMEOUT = 120.0


def fetch(dest: Path) -> Path:
    """The jar, through ``mvn dependency:copy`` (cached in ~/.m2), checked against the pin."""
    jar = dest / JAR
    if not jar.exists():
        mvn = shutil.which("mvn")
        if mvn is None:
            raise RuntimeError("Maven (mvn) is needed to fetch s3proxy from Maven Central")
        dest.mkdir(parents=True, exist_ok=True)
        subprocess.run([mvn, "-B", "-q", "-ntp", "org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy",
                        f"-Dartifact={COORDINATES}", f"-DoutputDirectory={dest}"], check=True, timeout=1800)
    digest = hashlib.sha256(jar.read_bytes()).hexdigest()
    if digest != SHA256:
        jar.unlink()
        raise RuntimeError(f"{jar}: SHA-256 {digest}, expected the pinned {SHA256}; deleted it")
    return jar


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class S3Proxy:
    jar: Path
    basedir: Path
    port: int = 59000
    access_key: str = field(default_factory=lambda: "wk" + secrets.token_hex(8))
    secret_key: str = field(default_factory=lambda: secrets.token_hex(20))
    proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        if _listening(self.port):
            raise RuntimeError(f"127.0.0.1:{self.port} is taken: cannot start s3proxy there")
        self.basedir.mkdir(parents=True, exist_ok=True)
        props = self.basedir.parent / "s3proxy.properties"
        props.write_text("\n".join([
            f"s3proxy.endpoint={self.endpoint}", "s3proxy.authorization=aws-v2-or-v4",
            f"s3proxy.identity={self.access_key}", f"s3proxy.credential={self.secret_key}",
            "jclouds.provider=filesystem", f"jclouds.filesystem.basedir={self.basedir}", ""]))
        props.chmod(0o600)
        log = open(self.basedir.parent / "s3proxy.log", "ab")  # noqa: SIM115 (the child keeps it)
        self.proc = subprocess.Popen(["java", "-Xmx256m", "-jar", str(self.jar), "--properties", str(props)],
                                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        run_dir = os.environ.get("WARWATCH_PRODUCTION_RUN_DIR")
        if run_dir:  # make test-production stops it even when pytest is killed (services.cleanup)
            from tests.production.services import Registry

            Registry(Path(run_dir) / "s3proxy-processes.json").add("s3proxy", self.proc.pid)
        deadline = time.monotonic() + START_TIMEOUT
        while not _listening(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"s3proxy did not start; log: {self.basedir.parent / 's3proxy.log'}")
            time.sleep(0.2)

    def stop(self) -> None:
        """Stop the server this object started (its own process group, by pid)."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=20)
