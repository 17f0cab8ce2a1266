"""A PostgreSQL server of a test's own, which the test may stop, start and restart at will.

Never the shared server on 5432: a throwaway cluster (initdb) on a free 127.0.0.1 port, its
socket in a directory of its own. The tests run as root, which PostgreSQL refuses, so the
server runs as the `postgres` user in a directory that user owns.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.db.engine import Database
from bot.db.migrate import upgrade


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        # The suite needs PostgreSQL anyway (every storage test runs on it): its absence is a
        # broken machine, not a reason to pass quietly.
        pytest.fail(f"no PostgreSQL server binaries ({name}) under /usr/lib/postgresql")
    return found[-1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.sockets = root / "sockets"
        self.log = root / "postgres.log"
        self.port = _free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_owner(self, *args: str) -> None:
        command = list(args)
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def init(self) -> None:
        self._as_owner(_bin("initdb"), "-A", "trust", "-U", "postgres", "-D", str(self.data))

    def _ctl(self, action: str, *extra: str) -> None:
        options = f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1"
        self._as_owner(
            _bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w",
            action, *extra,
        )  # fmt: skip

    def start(self) -> None:
        self._ctl("start")

    def stop(self) -> None:
        self._ctl("stop", "-m", "fast")

    def restart(self) -> None:
        self._ctl("restart", "-m", "fast")


@pytest.fixture(name="pg_server")
def pg_server_fixture() -> Iterator[PgServer]:
    """A started, migrated PostgreSQL server of the test's own; stopped and removed after."""
    root = Path(tempfile.mkdtemp(prefix="chaosbot-pg-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(root, owner.pw_uid, owner.pw_gid)
    server = PgServer(root)
    try:
        server._as_owner("mkdir", "-p", str(server.sockets))
        server.init()
        server.start()
        db = Database(server.url)
        upgrade(db)
        db.dispose()
        yield server
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # not running
            server.stop()
        shutil.rmtree(root, ignore_errors=True)
