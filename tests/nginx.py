"""A real nginx on a loopback port, configured with the repository's
deploy/nginx/customer-service.conf, for tests that put it in front of gunicorn.

Import the fixture into a test module::

    from tests.nginx import nginx  # noqa: F401

    def test_something(nginx):
        proxy = nginx(["127.0.0.1:8001", "127.0.0.1:8002"])  # running
        urllib.request.urlopen(proxy.base_url + "/healthz")

``nginx(upstreams)`` starts one in the foreground (``daemon off``) on a free
port, with the site file as it is in the repository but for its ``listen``
port, its upstream servers (the given ``host:port`` list, in that order) and
its log folder; the pid file, logs and temporary files live in a folder of
the test's ``tmp_path``. It is stopped when the test ends. :class:`Nginx` is
the same as a class, with ``start()`` and ``stop()``, for other scopes.

nginx comes from Debian's packages (scripts/install-nginx.sh). Without it a
test that asks for one is skipped, or fails when ``CI`` is set.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parent.parent
SITE_CONFIG = ROOT / "deploy" / "nginx" / "customer-service.conf"
HOST = "127.0.0.1"
# The folder the site file writes its logs to, replaced by the test's own.
SITE_LOG_DIR = "/var/log/nginx/"


def nginx_binary() -> str | None:
    """The nginx executable, on PATH or where Debian puts it; None without one."""
    found = shutil.which("nginx")
    if found:
        return found
    return "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None


def require_nginx() -> str:
    """The nginx executable; skips the test without one, or fails it in CI."""
    binary = nginx_binary()
    if binary is None:
        message = "needs nginx (scripts/install-nginx.sh installs it from Debian's packages)"
        if IN_CI:
            pytest.fail(f"CI=true but nginx is not installed: {message}")
        pytest.skip(message)
    return binary


def free_port() -> int:
    """A loopback port that nothing listens on (at the time of asking)."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def _replace_once(pattern: str, replacement: str, text: str, what: str) -> str:
    new, count = re.subn(pattern, lambda _: replacement, text, flags=re.MULTILINE)
    assert count == 1, f"{SITE_CONFIG.name}: expected one {what}, found {count}"
    return new


def render_site(text: str, upstreams: Sequence[str], port: int, log_dir: Path) -> str:
    """The site file with its upstream servers, listen address and log folder
    replaced; everything else (buffering, timeouts, limits, headers) as is."""
    assert upstreams, "nginx needs at least one upstream server"
    servers = "".join(f"    server {address};\n" for address in upstreams)
    text = _replace_once(
        r"^(upstream customer_service \{\n)(?:\s*server [^;]+;\n)+",
        "upstream customer_service {\n" + servers,
        text,
        "upstream customer_service block with server lines",
    )
    text = _replace_once(r"^    listen [^;]+;", f"    listen {HOST}:{port};", text, "listen line")
    assert SITE_LOG_DIR in text, f"{SITE_CONFIG.name} logs outside {SITE_LOG_DIR}"
    return text.replace(SITE_LOG_DIR, f"{log_dir}/")


def _compiled_without(binary: str) -> set[str]:
    """The http modules this nginx was built without (``nginx -V``)."""
    built = subprocess.run([binary, "-V"], capture_output=True, text=True, timeout=30).stderr
    return set(re.findall(r"--without-http_(\w+)_module", built))


def render_main(directory: Path, site: Path, without: set[str]) -> str:
    """nginx.conf for a process of its own: everything it writes in ``directory``."""
    temp_paths = [f"    client_body_temp_path {directory}/temp/client_body;"]
    for module in ("proxy", "fastcgi", "uwsgi", "scgi"):
        if module not in without:
            temp_paths.append(f"    {module}_temp_path {directory}/temp/{module};")
    # A master started by root hands its workers to another user ("nobody" by
    # default), who could not write in a root-owned tmp folder: keep them as
    # the user running the test.
    user = ""
    if os.geteuid() == 0:
        user = f"user {pwd.getpwuid(os.geteuid()).pw_name} {grp.getgrgid(os.getegid()).gr_name};\n"
    temp = "\n".join(temp_paths)
    return (
        f"{user}"
        "worker_processes 1;\n"
        f"pid {directory}/nginx.pid;\n"
        f"error_log {directory}/logs/error.log notice;\n"
        "events {\n    worker_connections 256;\n}\n"
        "http {\n"
        "    default_type application/octet-stream;\n"
        f"    access_log {directory}/logs/access.log;\n"
        f"{temp}\n"
        f"    include {site};\n"
        "}\n"
    )


class Nginx:
    """nginx with the repository's site file in front of ``upstreams``
    (``host:port`` strings), listening on ``HOST:port``."""

    def __init__(
        self,
        upstreams: Sequence[str],
        directory: Path,
        port: int | None = None,
        site: Path = SITE_CONFIG,
    ):
        self.upstreams = list(upstreams)
        self.directory = Path(directory)
        self.port = port or free_port()
        self.site = site
        self.process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def logs(self) -> Path:
        return self.directory / "logs"

    @property
    def access_log(self) -> Path:
        """The site's access log (its own ``log_format``)."""
        return self.logs / "customer-service.access.log"

    @property
    def error_log(self) -> Path:
        return self.logs / "error.log"

    def start(self) -> Nginx:
        """Render the configuration and start nginx; returns once it accepts
        connections, or fails the test with its error log."""
        assert self.process is None, "nginx is already running"
        binary = require_nginx()
        for folder in (self.logs, self.directory / "temp"):
            folder.mkdir(parents=True, exist_ok=True)
        site = self.directory / self.site.name
        site.write_text(render_site(self.site.read_text(), self.upstreams, self.port, self.logs))
        main = self.directory / "nginx.conf"
        main.write_text(render_main(self.directory, site, _compiled_without(binary)))
        with (self.logs / "stderr.log").open("w") as stderr:
            self.process = subprocess.Popen(
                [
                    binary,
                    "-p",
                    f"{self.directory}/",
                    "-e",
                    str(self.error_log),
                    "-c",
                    str(main),
                    "-g",
                    "daemon off;",
                ],
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                start_new_session=True,
            )
        self._wait_until_listening()
        return self

    def _wait_until_listening(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"nginx exited with {self.process.returncode}:\n{self._output()}")
            with socket.socket() as probe:
                probe.settimeout(1)
                if probe.connect_ex((HOST, self.port)) == 0:
                    return
            time.sleep(0.05)
        self.stop()
        pytest.fail(f"nginx did not listen on {HOST}:{self.port} within 20 s:\n{self._output()}")

    def _output(self) -> str:
        texts = [path.read_text() for path in (self.logs / "stderr.log", self.error_log)]
        return "\n".join(text for text in texts if text)

    def stop(self) -> None:
        """Stop nginx at once (SIGTERM; SIGKILL after 10 s)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.process = None

    def __enter__(self) -> Nginx:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@pytest.fixture
def nginx(tmp_path):
    """Start nginx in front of a list of ``host:port`` upstreams:
    ``nginx(["127.0.0.1:8001"])``. Each is stopped when the test ends."""
    started: list[Nginx] = []

    def start(upstreams: Sequence[str]) -> Nginx:
        proxy = Nginx(upstreams, tmp_path / f"nginx-{len(started)}")
        started.append(proxy)
        return proxy.start()

    yield start
    for proxy in started:
        proxy.stop()
