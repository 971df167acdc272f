"""`concierge serve --with-worker`: the worker runs beside the app and stops with it (SIGTERM and Ctrl-C)."""

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from tests.fixtures.servers import free_port, wait_for_http

pytestmark = pytest.mark.integration


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie has exited; only its parent has not reaped it yet
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_serve_with_worker_starts_the_worker_and_stops_it_with_the_server(tmp_path, stop):
    port = free_port()
    env = {**os.environ, "CONCIERGE_VAR_DIR": str(tmp_path / "var"), "CONCIERGE_PORT": str(port),
           "CONCIERGE_DATABASE_URL": f"sqlite:///{tmp_path / 'concierge.db'}", "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--with-worker"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        worker_pid, lines = None, []
        deadline = time.time() + 90
        while worker_pid is None and time.time() < deadline:
            line = server.stdout.readline()
            lines.append(line)
            if match := re.search(r"training worker started \(pid (\d+)\)", line):
                worker_pid = int(match.group(1))
        assert worker_pid, "".join(lines)
        if not wait_for_http(f"http://127.0.0.1:{port}/healthz", deadline):
            pytest.fail("the server did not answer /healthz")
        assert alive(worker_pid)
        server.send_signal(stop)
        out, _ = server.communicate(timeout=30)
        assert "training worker stopped" in out
        deadline = time.time() + 10
        while alive(worker_pid) and time.time() < deadline:
            time.sleep(0.2)
        assert not alive(worker_pid)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
