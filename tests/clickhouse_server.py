"""A real ClickHouse server for the tests: Debian's `clickhouse-server` (scripts/test.sh installs it when missing),
started as a process of the test run with its own data directory and free ports, reached over the network with the
native protocol, and stopped when the run ends. docs/operations.md, "ClickHouse", says what it is and its limits."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

CONFIG = """<?xml version="1.0"?>
<yandex>
    <logger><level>warning</level><log>{dir}/server.log</log><errorlog>{dir}/server.err.log</errorlog></logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>{tcp}</tcp_port>
    <http_port>{http}</http_port>
    <interserver_http_port>{inter}</interserver_http_port>
    <path>{dir}/data/</path>
    <tmp_path>{dir}/tmp/</tmp_path>
    <user_files_path>{dir}/user_files/</user_files_path>
    <format_schema_path>{dir}/format_schemas/</format_schema_path>
    <users_config>{users}</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <mark_cache_size>268435456</mark_cache_size>
    <max_concurrent_queries>100</max_concurrent_queries>
{extra}
</yandex>
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(
    directory: Path,
    *,
    tcp: int | None = None,
    extra: str = "",
    users: str = "/etc/clickhouse-server/users.xml",
) -> tuple[subprocess.Popen[bytes], str]:
    """Start a server in `directory`; returns the process and its URL (clickhouse://127.0.0.1:<port>/). `extra`:
    more of the server's configuration (tests/clickhouse_cluster.py: ZooKeeper, the cluster, the macros); `users`:
    the users' file (the package's by default)."""
    binary = shutil.which("clickhouse-server") or shutil.which("clickhouse")
    if binary is None:
        raise RuntimeError("clickhouse-server is not installed: run the suite with `bash scripts/test.sh`")
    directory.mkdir(parents=True, exist_ok=True)
    tcp, http, inter = tcp or free_port(), free_port(), free_port()
    config = directory / "config.xml"
    config.write_text(CONFIG.format(dir=directory, tcp=tcp, http=http, inter=inter, users=users, extra=extra))
    args = (
        [binary, f"--config-file={config}"]
        if binary.endswith("server")
        else [binary, "server", f"--config-file={config}"]
    )
    log = directory / "stdout.log"
    process = subprocess.Popen(args, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    wait_for_port(tcp, process, log, "clickhouse-server")
    return process, f"clickhouse://127.0.0.1:{tcp}/"


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path, what: str) -> None:
    """Until `process` listens on `port` (at most 60 s); it is killed if it does not, and its log's end is shown if
    it exited."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited: {log.read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{what} did not start within 60 s")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
