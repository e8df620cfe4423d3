"""Before `make test`: say which of PostgreSQL and Redis is unreachable, and how to start it.

With CI=true an unreachable service is a failure, never a silent skip; on a
developer machine it is a failure too, with the command that fixes it.
"""

import os
import socket
import sys
from urllib.parse import urlsplit

SERVICES = {
    "PostgreSQL": ("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/nectar", 5432,
                   "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"),
    "Redis": ("REDIS_URL", "redis://127.0.0.1:6379/15", 6379,
              'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" '
              "--appendonly no"),
}


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=3):
            return True
    except OSError:
        return False


def main() -> int:
    failed = False
    for name, (variable, default, default_port, how) in SERVICES.items():
        url = urlsplit(os.environ.get(variable) or default)
        host, port = url.hostname or "127.0.0.1", url.port or default_port
        if not reachable(host, port):
            failed = True
            print(f"{name} is not reachable at {host}:{port} ({variable}). Start it with: {how}",
                  file=sys.stderr)
    if failed and os.environ.get("CI", "").lower() == "true":
        print("CI=true: the suite needs both services; failing.", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
