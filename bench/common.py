"""The services a benchmark runs against, started and stopped by the bench itself.

`Stack` is a context manager that owns every process and database it creates: a throwaway
PostgreSQL database (dropped at the end), the Redis db of REDIS_URL (flushed), gunicorn with N
sync workers on a free 127.0.0.1 port, real Celery worker processes, and the Zoom sandbox as a
subprocess (`manage.py zoom_sandbox`). Processes are started and stopped by `devstack` (the
helper `make run` and the tests share): each in its own session, stopped by its own
process-group id, so nothing else on the machine is touched.

The bench process itself also runs Django (bench.settings) against the same database, to create
the tenant, count rows and run in-process measurements.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from devstack import (
    ManagedProcess,
    celery_worker_command,
    free_port,
    gunicorn_command,
    start_process,
    wait_http,
)

# A process the bench started (devstack's; the name bench modules know).
Proc = ManagedProcess

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
LOG_DIR = RESULTS_DIR / "logs"
PYTHON = sys.executable
BIN = Path(PYTHON).parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/nectar_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/10"
SETTINGS = "bench.settings"
TENANT_SLUG = "bench"
TENANT_HOST = "bench.portal.test"  # the Host header of the ingest load
# Sandbox deliveries need a name that resolves: the tenant owns "localhost" too.
LOCAL_HOST = "localhost"
SECRETS = {
    "client_id": "benchClient000001",
    "client_secret": "benchClientSecret00000000001",
    "secret_token": "benchSecretToken000000001",
}
ACCOUNT_ID = "benchAccount000000000001"


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def peak_rss_mib(pid: int) -> float | None:
    """A running process's peak resident memory so far (VmHWM), in MiB."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return None


def peak_rss_tree_mib(pid: int) -> float | None:
    """The largest peak resident memory (VmHWM) of a process and its descendants (a prefork
    worker's tasks run in its children), in MiB."""
    peaks = []
    todo = [pid]
    while todo:
        current = todo.pop()
        peaks.append(peak_rss_mib(current))
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                children = (task / "children").read_text().split()
                todo.extend(int(child) for child in children)
    peaks = [p for p in peaks if p is not None]
    return max(peaks) if peaks else None


def http_json(method: str, url: str, body: dict | None = None, *, timeout: float = 30.0,
              headers: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else {}
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw) if raw else {}
        except ValueError:
            return exc.code, {"raw": raw.decode(errors="replace")[:500]}


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def bench_database_url(url: str | None = None) -> str:
    """The throwaway database: BENCH_DATABASE_URL, else DATABASE_URL's server with the name
    suffixed "_bench" (unless it already ends in "bench"), so a run never drops real data."""
    url = url or os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL") \
        or DEFAULT_DATABASE_URL
    name = database_name(url) or "nectar"
    return url if name.endswith("bench") else with_database(url, f"{name}_bench")


def machine_info() -> dict:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram_gib = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    info = {"nproc": os.cpu_count(), "cpu_model": cpu, "ram_gib": ram_gib,
            "python": platform.python_version(), "platform": platform.platform()}
    with contextlib.suppress(Exception):
        import django
        import gunicorn

        info.update(django=django.get_version(), gunicorn=gunicorn.__version__)
    return info


def cpu_busy(seconds: float = 1.0) -> float:
    """Share of all CPUs busy over `seconds` (from /proc/stat): other work on the machine
    skews every figure, so each benchmark records it before it starts."""
    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return idle, sum(fields)

    try:
        idle0, total0 = sample()
        time.sleep(seconds)
        idle1, total1 = sample()
    except (OSError, ValueError, IndexError):
        return float("nan")
    return round(1 - (idle1 - idle0) / max(1, total1 - total0), 3)


def _proc_stat_totals() -> tuple[int, int]:
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


class CpuMeter:
    """CPU used during an interval: by the whole machine, and by the bench's own processes
    (every process in a session the bench started, the bench itself, and the PostgreSQL
    backends of its database). The rest is other people's work competing for the CPUs.

    Clock ticks from /proc; a process that exits inside the interval drops out of "ours", so
    short-lived helpers (the load generator) report their own CPU and are added by the caller.
    """

    def __init__(self, sessions: set[int] | dict[int, str], database: str):
        labels = sessions if isinstance(sessions, dict) else dict.fromkeys(sessions, "services")
        self.labels = {**labels, os.getsid(0): "bench"}
        self.sessions = set(self.labels)
        self.database = database
        self.ticks = os.sysconf("SC_CLK_TCK")
        self.by_label: dict[str, int] = {}

    def _ours(self) -> int:
        total = 0
        by_label: dict[str, int] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                rest = stat.rsplit(")", 1)[1].split()
                session, used = int(rest[3]), int(rest[11]) + int(rest[12])
                backend = "(postgres)" in stat and bool(self.database) and (
                    self.database.encode() in (entry / "cmdline").read_bytes())
                if session in self.sessions or backend:
                    total += used
                    label = "postgres" if backend else self.labels[session]
                    by_label[label] = by_label.get(label, 0) + used
            except (OSError, IndexError, ValueError):
                continue
        self.by_label = by_label
        return total

    def start(self) -> None:
        self.machine0, self.total0 = _proc_stat_totals()
        self.ours0 = self._ours()
        self.labels0 = dict(self.by_label)

    def stop(self, *, extra_cpu_seconds: float = 0.0) -> dict:
        machine1, total1 = _proc_stat_totals()
        ours1 = self._ours()
        total = max(1, total1 - self.total0)
        machine = (machine1 - self.machine0) / total
        ours_ticks = (ours1 - self.ours0) + extra_cpu_seconds * self.ticks
        ours = ours_ticks / total
        split = {label: (used - self.labels0.get(label, 0)) / self.ticks
                 for label, used in self.by_label.items()}
        split["generator"] = split.get("generator", 0.0) + extra_cpu_seconds
        return {"machine_busy": round(machine, 3), "ours": round(min(ours, machine), 3),
                "others": round(max(0.0, machine - ours), 3),
                "ours_cpu_seconds": round(ours_ticks / self.ticks, 3),
                "cpu_seconds_by_process": {k: round(v, 3) for k, v in sorted(split.items())}}


def load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def _git_revision() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                             capture_output=True, text=True, timeout=5, check=False)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True,
                               text=True, timeout=5, check=False).stdout.strip()
        return out.stdout.strip() + ("+uncommitted" if dirty else "")
    except OSError:
        return ""


class Stack(contextlib.AbstractContextManager):
    """Everything one benchmark needs; `close()` stops it all and drops the database."""

    def __init__(self, name: str, *, database_url: str | None = None,
                 redis_url: str | None = None, keep_database: bool = False):
        self.name = name
        self.database_url = bench_database_url(database_url)
        self.redis_url = (redis_url or os.environ.get("BENCH_REDIS_URL")
                          or os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL)
        self.keep_database = keep_database
        self.procs: list[Proc] = []
        self.schema = ""
        self.sandbox: Proc | None = None
        self.env = self._base_env()
        LOG_DIR.mkdir(parents=True, exist_ok=True)

    # -- environment --------------------------------------------------------------------------

    def _base_env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CELERY_"))}
        env.update({
            "DJANGO_SETTINGS_MODULE": SETTINGS,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "CELERY_BROKER_URL": self.redis_url,
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "DATABASE_CONN_MAX_AGE": "60",
            "ZOOM_METRICS_FETCH_DELAY_SECONDS": "0",
            "PORTAL_URL_SCHEME": "http",
            # The production settings' required secrets: throwaway values for this run.
            "DJANGO_SECRET_KEY": "bench-only-secret-key-0123456789abcdef0123456789",
            "FIELD_ENCRYPTION_KEY": "YmVuY2gta2V5LW9ubHktMDAwMDAwMDAwMDAwMDAwMDA=",
            "DJANGO_ALLOWED_HOSTS": f"{TENANT_HOST},{LOCAL_HOST},127.0.0.1",
            # TLS ends at a proxy in production; here plain HTTP reaches gunicorn directly.
            "DJANGO_SECURE_SSL_REDIRECT": "0",
            "LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
        })
        return env

    def set_env(self, **values: str) -> None:
        """Changes the environment of this process and every process started later."""
        self.env.update(values)
        os.environ.update(values)

    def activate(self) -> None:
        """Points this process's Django at the bench settings and database."""
        for key in list(os.environ):
            if key.startswith(("DJANGO_", "CELERY_")):
                del os.environ[key]
        os.environ.update(self.env)

    # -- database -----------------------------------------------------------------------------

    def _admin_sql(self, *statements: str) -> None:
        import psycopg

        admin_url = with_database(self.database_url, "postgres")
        with psycopg.connect(admin_url, autocommit=True) as conn:
            for sql in statements:
                conn.execute(sql)

    def database(self) -> str:
        """A fresh database with the portal's tables; returns how the schema was made."""
        name = database_name(self.database_url)
        if not re.fullmatch(r"[A-Za-z0-9_]+", name) or not name.endswith("bench"):
            raise RuntimeError(f"refusing to drop database {name!r}: its name must end in "
                               "'bench' (set DATABASE_URL to a throwaway database)")
        self._admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
                        f'CREATE DATABASE "{name}"')
        self.schema = self._schema()
        self.set_env(BENCH_SCHEMA=self.schema)
        import redis

        client = redis.Redis.from_url(self.redis_url)
        client.flushdb()
        client.close()
        return self.schema

    def _manage(self, *args: str, env: dict | None = None, check: bool = True,
                timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env or self.env,
                              capture_output=True, text=True, check=check, timeout=timeout)

    def _schema(self) -> str:
        """Migrations when they match the models; otherwise tables straight from the models."""
        stale = self._manage("makemigrations", "--check", "--dry-run", check=False)
        if stale.returncode == 0:
            done = self._manage("migrate", "--noinput", check=False)
            if done.returncode == 0:
                return "migrations"
            errors = [line for line in done.stderr.splitlines() if "Error" in line] or ["?"]
            last = errors[-1].strip()[:300]
            log(f"migrate failed ({last}); creating tables from the models instead")
            name = database_name(self.database_url)
            self._admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
                            f'CREATE DATABASE "{name}"')
        else:
            log("migration files are out of date with the models; creating tables from the "
                "models (as pytest --nomigrations does). The lead regenerates migrations.")
        env = {**self.env, "BENCH_SCHEMA": "models"}
        self._manage("migrate", "--run-syncdb", "--noinput", env=env)
        return "models"

    def drop_database(self) -> None:
        name = database_name(self.database_url)
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        try:
            self._admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except Exception as exc:  # cleanup must not hide the benchmark's own error
            log(f"could not drop database {name}: {exc}")

    # -- Django in this process ---------------------------------------------------------------

    def django(self) -> None:
        self.activate()
        import django
        from django.conf import settings

        if not settings.configured or not getattr(django, "_bench_setup", False):
            django.setup()
            django._bench_setup = True  # type: ignore[attr-defined]
        from django.db import connections

        connections.close_all()  # a previous benchmark's database may be gone

    def tenant(self, *, domains: tuple[str, ...] = (TENANT_HOST, LOCAL_HOST),
               primary: str = LOCAL_HOST, account_id: str = ACCOUNT_ID):
        """The bench tenant: our app credentials, the ingest host and localhost."""
        from tenants.models import Tenant
        from tenants.services import tenant_upsert

        tenant, _ = tenant_upsert(slug=TENANT_SLUG, name="Benchmark customer", domains=domains,
                                  primary_domain=primary, credentials=dict(SECRETS))
        Tenant.objects.filter(pk=tenant.pk).update(zoom_account_id=account_id)
        tenant.refresh_from_db()
        return tenant

    # -- processes ----------------------------------------------------------------------------

    def _start(self, name: str, args: list[str], *, env: dict | None = None) -> Proc:
        proc = start_process(name, args, cwd=ROOT, env=env or self.env,
                             log_path=LOG_DIR / f"{self.name}-{name}.log")
        self.procs.append(proc)
        return proc

    def cpu_meter(self) -> CpuMeter:
        labels = {p.pid: re.sub(r"\d+$", "", p.name) for p in self.procs}
        return CpuMeter(labels, database_name(self.database_url))

    def gunicorn(self, workers: int = 4, *, worker_class: str = "sync", threads: int = 1,
                 wrap: list[str] | None = None) -> Proc:
        port = free_port()
        args = gunicorn_command(port=port, workers=workers, extra=[
            "--worker-class", worker_class, "--threads", str(threads),
            "--backlog", "2048", "--keep-alive", "5", "--timeout", "60",
            "--log-level", "warning"])
        proc = self._start(f"gunicorn{workers}", [*(wrap or []), *args])
        proc.url = f"http://127.0.0.1:{port}"
        proc.extra = {"port": port, "workers": workers, "worker_class": worker_class,
                      "threads": threads}
        wait_http(proc.url + "/healthz", process=proc.popen)
        return proc

    def celery(self, processes: int = 1, *, queues: str = "default,webhooks,sync,metrics",
               concurrency: int = 1, env: dict | None = None) -> list[Proc]:
        """`processes` separate worker processes (each -P solo unless concurrency > 1), so the
        shared rate limiter is really shared between processes, as between machines."""
        started = []
        for index in range(processes):
            pool = ("solo", None) if concurrency == 1 else ("prefork", concurrency)
            proc = self._start(f"celery{index}", celery_worker_command(
                name=f"bench{index}-{os.getpid()}", queues=queues, pool=pool[0],
                concurrency=pool[1], loglevel="WARNING", extra=["--prefetch-multiplier", "1"]),
                env={**self.env, **(env or {})})
            started.append(proc)
        self._wait_celery(started)
        return started

    def _wait_celery(self, procs: list[Proc], timeout: float = 60.0) -> None:
        from nectar_portal.celery import app

        deadline = time.monotonic() + timeout
        names = {p.popen.args[p.popen.args.index("-n") + 1].split("@")[0] for p in procs}
        while time.monotonic() < deadline:
            for proc in procs:
                if not proc.alive():
                    raise RuntimeError(f"{proc.name} exited:\n{proc.log_tail()}")
            replies = app.control.ping(timeout=1.0) or []
            seen = {name.split("@")[0] for reply in replies for name in reply}
            if names <= seen:
                return
        raise RuntimeError(f"Celery workers {sorted(names)} did not answer a ping")

    def stop_celery(self, procs: list[Proc]) -> None:
        for proc in procs:
            proc.stop()
            self.procs.remove(proc)

    def start_sandbox(self, *, users: int = 60, groups: int = 5, seed: int = 1,
                      event_url: str = "", extra_args: list[str] | None = None,
                      extra_apps: list[dict] | None = None) -> Proc:
        """`manage.py zoom_sandbox` with our app (and `extra_apps`, each a further customer's
        app and account), no data delay and compressed retries."""
        port = free_port()
        app = {**SECRETS, "account_id": ACCOUNT_ID,
               "redirect_uri": f"http://{LOCAL_HOST}/adminapi/zoom/oauth/authorize"}
        if event_url:
            app["event_url"] = event_url
        apps = [app, *(extra_apps or [])]
        args = [PYTHON, "manage.py", "zoom_sandbox", "--port", str(port), "--seed", str(seed),
                "--users", str(users), "--groups", str(groups), "--meetings", "0",
                "--webinars", "0", "--data-delay", "0", "--retry-factor", "0.001", "--quiet",
                "--apps-json", json.dumps(apps), *(extra_args or [])]
        proc = self._start("sandbox", args)
        proc.url = f"http://127.0.0.1:{port}"
        wait_http(proc.url + "/_sandbox/health", process=proc.popen)
        self.sandbox = proc
        self.set_env(ZOOM_OAUTH_BASE_URL=proc.url, ZOOM_API_BASE_URL=proc.url + "/v2")
        with contextlib.suppress(Exception):
            from django.conf import settings

            if settings.configured:
                settings.ZOOM_OAUTH_BASE_URL = proc.url
                settings.ZOOM_API_BASE_URL = proc.url + "/v2"
        return proc

    def stop_sandbox(self) -> None:
        if self.sandbox is not None:
            self.sandbox.stop()
            self.procs.remove(self.sandbox)
            self.sandbox = None

    def sandbox_control(self, method: str, path: str, body: dict | None = None) -> dict:
        status, answer = http_json(method, f"{self.sandbox.url}/_sandbox/{path}", body)
        if status != 200:
            raise RuntimeError(f"sandbox {method} /_sandbox/{path}: HTTP {status} {answer}")
        return answer

    def connect_tenant(self, tenant, *, client_id: str = SECRETS["client_id"]) -> None:
        """OAuth as the customer would: consent in the sandbox, then the portal's code exchange
        (zoom_integration.oauth.authorization_complete, Installation-URL flow: no state)."""
        from tenants.selectors import tenant_zoom_urls

        redirect_uri = tenant_zoom_urls(tenant=tenant).redirect_url
        form = urlencode({"response_type": "code", "client_id": client_id,
                          "redirect_uri": redirect_uri, "decision": "allow"}).encode()
        request = urllib.request.Request(f"{self.sandbox.url}/oauth/authorize", data=form,
                                         method="POST")

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        opener = urllib.request.build_opener(NoRedirect)
        try:
            opener.open(request, timeout=10)
            raise RuntimeError("the sandbox consent form did not redirect")
        except urllib.error.HTTPError as exc:
            location = exc.headers.get("Location", "")
        code = parse_qs(urlsplit(location).query).get("code", [""])[0]
        if not code:
            raise RuntimeError(f"no authorization code from the sandbox: {location}")
        from zoom_integration.oauth import authorization_complete

        authorization_complete(tenant=tenant, session={}, query={"code": code})

    def sandbox_token(self) -> str:
        """The tenant's current access token (for the fetch-only baselines)."""
        from tenants.models import Tenant
        from zoom_integration.oauth import access_token_get

        return access_token_get(tenant=Tenant.objects.get(slug=TENANT_SLUG))

    # -- teardown -----------------------------------------------------------------------------

    def close(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        self.procs.clear()
        self.sandbox = None
        if not self.keep_database:
            self.drop_database()
        with contextlib.suppress(Exception):
            import redis

            client = redis.Redis.from_url(self.redis_url)
            client.flushdb()
            client.close()

    def __exit__(self, *exc) -> None:
        self.close()


def run_child(module: str, spec: dict, *, env: dict, timeout: float = 600) -> dict:
    """Runs `python -m module` with a JSON spec on stdin; its last stdout line is JSON."""
    done = subprocess.run([PYTHON, "-m", module], input=json.dumps(spec), cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{module} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(lines[-1])


def results_header() -> dict:
    return {"machine": machine_info(), "git": _git_revision(),
            "taken_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
