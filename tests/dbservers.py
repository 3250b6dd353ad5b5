"""Throwaway database servers for tests and ``make demo``: PostgreSQL and MariaDB/MySQL, started
in a temporary directory on a free 127.0.0.1 port, with an ``admin`` user that has a password
(as Aurora's and Redshift's master users do), and stopped again.

PostgreSQL comes from the ``pgserver`` wheel in the dev lock (PostgreSQL 16, no system package),
else from ``DBSCALE_PG_BIN`` or Debian's ``postgresql``; MariaDB/MySQL from the OS package manager
(no wheel carries one). Both servers refuse to run as root; as root they run as the ``postgres`` /
``mysql`` system user. A missing server raises :class:`ServerUnavailable` with one line saying how
to get it; tests turn that into a skip, or a failure where ``DBSCALE_REQUIRE_TEST_SERVERS`` is set
(``.ci/run`` sets it).
"""

from __future__ import annotations

import contextlib
import glob
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ADMIN_USER = "admin"
ADMIN_PASSWORD = "Adm1nPassw0rdForTests"
START_TIMEOUT_SECONDS = 60.0


class ServerUnavailable(RuntimeError):
    """No server binary on this machine (the message says how to install one)."""


@dataclass(frozen=True)
class Server:
    """A running server: where it listens and its admin credentials."""

    engine: str  # "mysql" or "postgresql"
    host: str
    port: int
    user: str
    password: str
    database: str

    def connect(self, user: str | None = None, password: str | None = None, database: str | None = None) -> Any:
        """A DB-API connection (pymysql or psycopg 3), as ``admin`` unless told otherwise."""
        user = user or self.user
        password = self.password if password is None else password
        if self.engine == "mysql":
            import pymysql

            return pymysql.connect(
                host=self.host, port=self.port, user=user, password=password, database=database, autocommit=False
            )
        import psycopg

        return psycopg.connect(
            host=self.host, port=self.port, user=user, password=password, dbname=database or self.database
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_as(user: str | None) -> list[str]:
    """A command prefix that runs as ``user`` when we are root (servers refuse root)."""
    if os.geteuid() != 0 or user is None:
        return []
    return ["runuser", "-u", user, "--"]


def system_user(name: str) -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(name)
    except KeyError:
        raise ServerUnavailable(
            f"running as root needs the '{name}' system user to start the server: useradd --system {name}"
        ) from None
    return name


def _chown(path: Path, user: str | None) -> None:
    if user is not None:
        entry = pwd.getpwnam(user)
        for root, dirs, files in os.walk(path):
            for name in [root, *(os.path.join(root, d) for d in dirs), *(os.path.join(root, f) for f in files)]:
                os.chown(name, entry.pw_uid, entry.pw_gid)


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}:\n{_tail(log)}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"the server did not listen on port {port} within {START_TIMEOUT_SECONDS:g} s:\n{_tail(log)}")


def _tail(log: Path) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-20:])
    except OSError:
        return "(no log)"


# --- PostgreSQL -------------------------------------------------------------------------------


INSTALL_POSTGRES = "apt-get install postgresql"  # where the lock's pgserver wheel does not install
INSTALL_MYSQL = "apt-get install mariadb-server"


def _wheel_postgres_bin() -> Path | None:
    """The ``pgserver`` wheel's ``bin`` directory, when installed and usable by the server's user."""
    spec = importlib.util.find_spec("pgserver")  # found, not imported: its import reads user directories
    if spec is None or spec.origin is None:
        return None
    bindir = Path(spec.origin).parent / "pginstall" / "bin"
    if not (bindir / "initdb").exists():
        return None
    if os.geteuid() == 0 and not _others_can_reach(bindir):
        return _reachable_copy(bindir.parent) / "bin"  # the 'postgres' user cannot enter a private directory
    return bindir


def _reachable_copy(install: Path) -> Path:
    """A copy of the wheel's PostgreSQL tree that every user can run (made once per machine and
    version, under the temporary directory). The binaries find their libraries through a relative
    RPATH (``$ORIGIN/../../../pgserver.libs``), so the copy keeps the wheel's layout."""
    package = install.parent  # site-packages/pgserver
    libs = package.parent / "pgserver.libs"
    target = Path(tempfile.gettempdir()) / f"dbscale-pgserver-{install.stat().st_mtime_ns}"
    tree = target / "pgserver" / install.name
    if not (tree / "bin" / "initdb").exists():
        staging = Path(tempfile.mkdtemp(prefix="dbscale-pgserver-"))
        shutil.copytree(install, staging / "pgserver" / install.name, symlinks=True)
        if libs.is_dir():
            shutil.copytree(libs, staging / libs.name, symlinks=True)
        for path in [staging, *staging.rglob("*")]:
            if not path.is_symlink():
                os.chmod(path, os.stat(path).st_mode | 0o005)
        with contextlib.suppress(OSError):  # another worker made it first
            staging.rename(target)
        shutil.rmtree(staging, ignore_errors=True)
    return tree


def _others_can_reach(path: Path) -> bool:
    """Every directory from / down to ``path`` is searchable by other users (o+x)."""
    return all(os.stat(p).st_mode & 0o001 for p in [path, *path.parents])


def postgres_bin() -> Path:
    """The directory holding ``initdb`` and ``postgres``: ``DBSCALE_PG_BIN``, the pgserver wheel,
    Debian's newest, or one on PATH; ServerUnavailable when there is none."""
    configured = os.environ.get("DBSCALE_PG_BIN", "")
    if configured and (Path(configured) / "initdb").exists():
        return Path(configured)
    wheel = _wheel_postgres_bin()
    if wheel is not None:
        return wheel
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"))[::-1]:
        if (Path(candidate) / "initdb").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise ServerUnavailable(f"no PostgreSQL server: {INSTALL_POSTGRES} (or set DBSCALE_PG_BIN)")


@contextlib.contextmanager
def postgres_server() -> Iterator[Server]:
    """A PostgreSQL server with password (SCRAM) authentication over TCP, for the test's lifetime."""
    bindir = postgres_bin()
    owner = system_user("postgres")
    base = Path(tempfile.mkdtemp(prefix="dbscale-pg-"))
    data, log, pwfile = base / "data", base / "server.log", base / "pw"
    pwfile.write_text(ADMIN_PASSWORD + "\n")
    _chown(base, owner)
    prefix = _run_as(owner)
    port = _free_port()
    process: subprocess.Popen[bytes] | None = None
    try:
        subprocess.run(
            [
                *prefix,
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                ADMIN_USER,
                f"--pwfile={pwfile}",
                "--auth-host=scram-sha-256",
                "--auth-local=scram-sha-256",
                "--no-sync",
                "--encoding=UTF8",
                "--no-locale",
            ],
            check=True,
            capture_output=True,
        )
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [
                    *prefix,
                    str(bindir / "postgres"),
                    "-D",
                    str(data),
                    "-p",
                    str(port),
                    "-h",
                    "127.0.0.1",
                    "-k",
                    str(base),
                    "-c",
                    "fsync=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "shared_buffers=16MB",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        _wait_for_port(port, process, log)
        server = Server("postgresql", "127.0.0.1", port, ADMIN_USER, ADMIN_PASSWORD, "postgres")
        _wait_until_connects(server)
        yield server
    finally:
        _stop(process, data / "postmaster.pid", signal.SIGQUIT)  # immediate shutdown
        shutil.rmtree(base, ignore_errors=True)


# --- MariaDB / MySQL ----------------------------------------------------------------------------


def mysql_server_binary() -> Path:
    """``mariadbd`` or ``mysqld``; ServerUnavailable when neither is installed."""
    for name in ("mariadbd", "mysqld"):
        for candidate in (shutil.which(name), f"/usr/sbin/{name}"):
            if candidate and Path(candidate).exists():
                return Path(candidate)
    raise ServerUnavailable(f"no MariaDB/MySQL server: {INSTALL_MYSQL} (or default-mysql-server)")


@contextlib.contextmanager
def mysql_server() -> Iterator[Server]:
    """A MariaDB (or MySQL) server on 127.0.0.1 with an ``admin``@``%`` user, for the test's lifetime."""
    binary = mysql_server_binary()
    owner = system_user("mysql")
    base = Path(tempfile.mkdtemp(prefix="dbscale-mysql-"))
    data, log, init = base / "data", base / "server.log", base / "init.sql"
    init.write_text(
        f"CREATE USER IF NOT EXISTS '{ADMIN_USER}'@'%' IDENTIFIED BY '{ADMIN_PASSWORD}';\n"
        f"GRANT ALL PRIVILEGES ON *.* TO '{ADMIN_USER}'@'%' WITH GRANT OPTION;\n"
    )
    data.mkdir()
    _chown(base, owner)
    prefix = _run_as(owner)
    port = _free_port()
    common = ["--no-defaults", f"--datadir={data}"]
    if owner:
        common.append(f"--user={owner}")
    process: subprocess.Popen[bytes] | None = None
    try:
        installer = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
        if binary.name == "mariadbd" and installer:
            subprocess.run(
                [*prefix, installer, *common, "--skip-test-db", "--auth-root-authentication-method=socket"],
                check=True,
                capture_output=True,
            )
        else:  # MySQL 5.7+/8
            subprocess.run([*prefix, str(binary), *common, "--initialize-insecure"], check=True, capture_output=True)
        process = subprocess.Popen(
            [
                *prefix,
                str(binary),
                *common,
                f"--port={port}",
                "--bind-address=127.0.0.1",
                f"--socket={base / 'mysqld.sock'}",
                f"--pid-file={base / 'mysqld.pid'}",
                f"--log-error={log}",
                f"--init-file={init}",
                "--skip-name-resolve",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=32M",
                "--innodb-flush-log-at-trx-commit=0",
                "--character-set-server=utf8mb4",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for_port(port, process, log)
        server = Server("mysql", "127.0.0.1", port, ADMIN_USER, ADMIN_PASSWORD, "")
        _wait_until_connects(server)
        yield server
    finally:
        _stop(process, base / "mysqld.pid", signal.SIGKILL)
        shutil.rmtree(base, ignore_errors=True)


def _wait_until_connects(server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while True:
        try:
            server.connect().close()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes] | None, pid_file: Path | None = None, sig: int = 0) -> None:
    """Stop a throwaway server fast: its data is deleted next, so no clean shutdown is needed
    (``sig`` to the server's own pid from ``pid_file``; runuser does not pass SIGKILL on)."""
    if process is None or process.poll() is not None:
        return
    if pid_file is not None and sig:
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(pid_file.read_text().split()[0]), sig)
    else:
        process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


# --- per-test state -------------------------------------------------------------------------------

_MYSQL_SYSTEM_DATABASES = frozenset({"mysql", "information_schema", "performance_schema", "sys"})
_MYSQL_SYSTEM_USERS = frozenset({ADMIN_USER, "root", "mysql", "mariadb.sys", "mysql.sys", "mysql.session", "PUBLIC"})


def reset_mysql(server: Server) -> None:
    """Drop every database and user that is not the server's own or ``admin``."""
    connection = server.connect()
    try:
        cursor = connection.cursor()
        cursor.execute("SHOW DATABASES")
        for (name,) in cursor.fetchall():
            if name not in _MYSQL_SYSTEM_DATABASES:
                cursor.execute(f"DROP DATABASE `{name}`")
        cursor.execute("SELECT User, Host FROM mysql.user")
        for user, host in cursor.fetchall():
            if user not in _MYSQL_SYSTEM_USERS and user:
                cursor.execute("DROP USER %s@%s", (user, host))
        connection.commit()
    finally:
        connection.close()


def reset_postgres(server: Server) -> None:
    """Drop every schema (but ``public``) and role (but ``admin``) of the server's database."""
    admin = server.connect()
    admin.autocommit = True
    try:
        schemas = admin.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname NOT IN ('public', 'information_schema') "
            "AND nspname !~ '^pg_'"
        ).fetchall()
        for (schema,) in schemas:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        roles = admin.execute("SELECT rolname FROM pg_roles WHERE rolname <> %s AND rolname !~ '^pg_'", (ADMIN_USER,))
        for (role,) in roles.fetchall():
            admin.execute(f'DROP OWNED BY "{role}"')
            admin.execute(f'DROP ROLE "{role}"')
    finally:
        admin.close()
