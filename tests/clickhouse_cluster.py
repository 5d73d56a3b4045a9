"""A ClickHouse cluster for tests (docs/operations.md, "A cluster"): ZooKeeper (Debian's `zookeeper` package,
started as a process of the run with its own data directory and port) and two ClickHouse servers
(tests/clickhouse_server.py), each one shard of the cluster `meterline_test`, one replica each, with the macros
`{cluster}`, `{shard}` and `{replica}` and the distributed DDL queue in ZooKeeper. Meterline's ClickHouse user has
the profile docs/operations.md asks for (`insert_distributed_sync = 1`). The
tables are made by running docs/operations.md's own cluster DDL, as an operator would (`cluster_ddl`).

What it does not cover: two replicas of one shard (`insert_quorum`), several machines."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests import clickhouse_server
from tests.clickhouse_server import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[1]
NAME = "meterline_test"
ZOOKEEPER_JAR = "/usr/share/java/zookeeper.jar"

USERS = """<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <insert_distributed_sync>1</insert_distributed_sync>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
        <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default>
    </quotas>
</yandex>
"""


@dataclass(frozen=True)
class Cluster:
    urls: list[str]  # each server's clickhouse://127.0.0.1:<port>/, shard 1 first


def _statements(after: str) -> list[str]:
    """The statements of the first sql block of docs/operations.md after the text `after`."""
    text = (ROOT / "docs" / "operations.md").read_text()
    block = re.search(re.escape(after) + r".*?```sql\n(.*?)```", text, re.S)
    if block is None:
        raise LookupError(f"docs/operations.md has no sql block after {after!r}")
    return [statement.strip() for statement in block.group(1).split(";") if statement.strip()]


def cluster_ddl() -> list[str]:
    """docs/operations.md's cluster DDL (the block after "**A cluster.**")."""
    return _statements("**A cluster.**")


def emptying() -> list[str]:
    """docs/operations.md's statements that empty the shards' local tables after a failed move."""
    return _statements("**A failed move on a cluster.**")


def _wait_for_zookeeper(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    """Until ZooKeeper serves (its `srvr` command answers with its mode): a ClickHouse server started before that
    fails its first session, and 18.16 may then crash on its first DDL."""
    wait_for_port(port, process, log, "ZooKeeper")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                sock.sendall(b"srvr")
                if b"Mode: standalone" in sock.recv(4096):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("ZooKeeper did not serve within 60 s")


@contextmanager
def running(directory: Path) -> Iterator[Cluster]:
    """ZooKeeper and two ClickHouse servers, one shard each, for the duration of the block."""
    java = shutil.which("java")
    if java is None or not Path(ZOOKEEPER_JAR).exists():
        raise RuntimeError("ZooKeeper is not installed: run the suite with `bash scripts/test.sh`")
    directory.mkdir(parents=True, exist_ok=True)
    zk_port = free_port()
    zk_log = directory / "zookeeper.log"
    zookeeper = subprocess.Popen(
        [
            java,
            "-Xmx256m",
            "-Dzookeeper.admin.enableServer=false",
            "-cp",
            ZOOKEEPER_JAR,
            "org.apache.zookeeper.server.ZooKeeperServerMain",
            str(zk_port),
            str(directory / "zookeeper"),
        ],
        stdout=zk_log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    servers: list[subprocess.Popen[bytes]] = []
    try:
        _wait_for_zookeeper(zk_port, zookeeper, zk_log)
        users = directory / "users.xml"
        users.write_text(USERS)
        ports = [free_port(), free_port()]
        shards = "".join(
            "<shard><internal_replication>true</internal_replication>"
            f"<replica><host>127.0.0.1</host><port>{port}</port></replica></shard>"
            for port in ports
        )
        urls = []
        for number, port in enumerate(ports, start=1):
            extra = (
                f"<zookeeper><node><host>127.0.0.1</host><port>{zk_port}</port></node></zookeeper>"
                f"<remote_servers><{NAME}>{shards}</{NAME}></remote_servers>"
                f"<macros><cluster>{NAME}</cluster><shard>{number:02d}</shard><replica>replica1</replica></macros>"
                "<distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>"
            )
            shard = directory / f"shard{number}"
            process, url = clickhouse_server.start(shard, tcp=port, extra=extra, users=str(users))
            servers.append(process)
            urls.append(url)
        yield Cluster(urls)
    finally:
        for process in servers:
            clickhouse_server.stop(process)
        clickhouse_server.stop(zookeeper)
