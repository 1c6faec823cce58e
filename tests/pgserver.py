"""A throwaway PostgreSQL server for tests, built from the distribution's binaries.

The cluster lives in a fresh temporary directory, listens on a free localhost port and
on a unix socket inside that directory, trusts local connections, and runs with fsync
off (its data is discarded). initdb and postgres refuse to run as root, so as root the
server runs as the `postgres` system user (created by the Debian package).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

SETUP_HINT = (
    "PostgreSQL server binaries (initdb, pg_ctl) were not found: run scripts/setup.sh "
    "(it installs the postgresql package; CI runs it too), or set CERTKEEPER_PG_BIN to "
    "the directory that holds initdb and pg_ctl."
)


class PostgresUnavailable(RuntimeError):
    """The server binaries are missing or the server did not start; the message says which."""


def find_bindir() -> Path:
    """Where initdb and pg_ctl live: $CERTKEEPER_PG_BIN, Debian's versioned dirs, or PATH."""
    candidates: list[Path] = []
    env = os.environ.get("CERTKEEPER_PG_BIN")
    if env:
        candidates.append(Path(env))
    versioned = glob.glob("/usr/lib/postgresql/*/bin")
    versioned.sort(key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0)
    candidates.extend(Path(p) for p in reversed(versioned))
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    for directory in candidates:
        if (directory / "initdb").is_file() and (directory / "pg_ctl").is_file():
            return directory
    raise PostgresUnavailable(SETUP_HINT)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """Start with `start()`, create databases with `create_database()`, end with `stop()`."""

    def __init__(self, bindir: Path | None = None) -> None:
        self.bindir = bindir or find_bindir()
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="ckpg-"))
        self.datadir = self.root / "data"
        self.logfile = self.root / "server.log"
        self.superuser = "postgres"
        self._run_as: list[str] = []
        self.started = False

    def _as_server_user(self, args: list[str]) -> list[str]:
        return [*self._run_as, *args]

    def _prepare_user(self) -> None:
        if os.geteuid() != 0:
            return
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            raise PostgresUnavailable(
                "running as root, and there is no `postgres` user to run the server as: "
                "install the postgresql package or run the tests as a normal user"
            ) from None
        runuser = shutil.which("runuser")
        if runuser is None:
            raise PostgresUnavailable("running as root, and `runuser` is not available")
        os.chown(self.root, account.pw_uid, account.pw_gid)
        self._run_as = [runuser, "-u", "postgres", "--"]

    def _run(self, args: list[str], what: str) -> None:
        proc = subprocess.run(
            self._as_server_user(args),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=120,
            check=False,
        )
        if proc.returncode != 0:
            log = self.logfile.read_text(errors="replace") if self.logfile.exists() else ""
            raise PostgresUnavailable(
                f"{what} failed (exit {proc.returncode}):\n{proc.stdout}\n{log}".rstrip()
            )

    def start(self) -> PostgresServer:
        self._prepare_user()
        self._run(
            [
                str(self.bindir / "initdb"),
                "-D",
                str(self.datadir),
                "-U",
                self.superuser,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            "initdb",
        )
        options = " ".join(
            [
                f"-p {self.port}",
                f"-k {self.root}",
                "-c listen_addresses=127.0.0.1",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=100",
            ]
        )
        self._run(
            [
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.datadir),
                "-l",
                str(self.logfile),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            ],
            "pg_ctl start",
        )
        self.started = True
        return self

    def url(self, database: str = "postgres") -> str:
        """A SQLAlchemy URL over the unix socket (no TCP, no password)."""
        return (
            f"postgresql+psycopg://{self.superuser}@/{database}?host={self.root}&port={self.port}"
        )

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; returns its URL."""
        import psycopg

        name = name or f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(
            host=str(self.root),
            port=self.port,
            user=self.superuser,
            dbname="postgres",
            autocommit=True,
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.url(name)

    def pause(self) -> None:
        """Stop the server, keeping its data (a database outage); `resume()` restarts it."""
        self._pg_ctl("-m", "fast", "stop")  # fast: committed data kept despite fsync=off

    def resume(self) -> None:
        # restart starts a stopped server with the options it last ran with (postmaster.opts)
        self._pg_ctl("restart")

    def _pg_ctl(self, *args: str) -> None:
        # -l: the server's output goes to its log, not to our pipe, which it would outlive
        pg_ctl = [str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-l", str(self.logfile)]
        self._run([*pg_ctl, "-w", *args], f"pg_ctl {args[-1]}")

    def stop(self) -> None:
        try:
            if self.started:
                subprocess.run(
                    self._as_server_user(
                        [
                            str(self.bindir / "pg_ctl"),
                            "-D",
                            str(self.datadir),
                            "-m",
                            "immediate",
                            "-w",
                            "stop",
                        ]
                    ),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    timeout=60,
                    check=False,
                )
                self.started = False
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
