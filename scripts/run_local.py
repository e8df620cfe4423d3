"""`make run`: the whole portal on one machine, on embedded defaults, until Ctrl-C.

`run_local.py manage ARGS...` (make manage ARGS="...") runs one manage.py command with the
same environment instead.

Starts, in order: migrations, a local admin login (password printed once), the Zoom sandbox
with a demo app, a demo tenant wired to it, then the web server, a Celery worker and beat.
State that must survive restarts (encryption key, admin password, demo app credentials) lives
in var/local.json, which is git-ignored. SQLite and the filesystem broker are used unless
DATABASE_URL / REDIS_URL are set. Readiness waits and teardown are `devstack`'s, shared with the
tests and the benchmarks; restarting a dead worker or beat is this script's own policy.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a file: devstack/ sits at the top of the repository
from devstack import process_stop, wait_http  # noqa: E402

VAR = ROOT / "var"
STATE_FILE = VAR / "local.json"
PYTHON = sys.executable
WEB_PORT = int(os.environ.get("PORTAL_PORT", "8000"))
SANDBOX_PORT = int(os.environ.get("SANDBOX_PORT", "8100"))
DEMO_HOST = "localhost"


def load_state() -> dict:
    VAR.mkdir(exist_ok=True)
    state = json.loads(STATE_FILE.read_text()) if STATE_FILE.exists() else {}
    changed = False
    defaults = {
        "field_encryption_key": lambda: Fernet.generate_key().decode(),
        "secret_key": lambda: secrets.token_urlsafe(50),
        "demo_client_id": lambda: "demo" + secrets.token_hex(8),
        "demo_client_secret": lambda: secrets.token_urlsafe(24),
        "demo_secret_token": lambda: secrets.token_urlsafe(16),
        "demo_account_id": lambda: "demoAcct" + secrets.token_hex(4),
        "metrics_token": lambda: secrets.token_urlsafe(24),
    }
    for key, make in defaults.items():
        if key not in state:
            state[key] = make()
            changed = True
    if changed:
        STATE_FILE.write_text(json.dumps(state, indent=2))
        STATE_FILE.chmod(0o600)
    return state


def portal_env(state: dict) -> dict:
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "nectar_portal.settings.local")
    env.setdefault("DJANGO_DEBUG", "1")
    env.setdefault("DJANGO_SECRET_KEY", state["secret_key"])
    env.setdefault("FIELD_ENCRYPTION_KEY", state["field_encryption_key"])
    env.setdefault("ZOOM_OAUTH_BASE_URL", f"http://127.0.0.1:{SANDBOX_PORT}")
    env.setdefault("ZOOM_API_BASE_URL", f"http://127.0.0.1:{SANDBOX_PORT}/v2")
    env.setdefault("PORTAL_URL_SCHEME", "http")
    env.setdefault("PORTAL_URL_PORT", str(WEB_PORT))
    # /metrics sums the web server's and the worker's counts through this folder.
    env.setdefault("PORTAL_METRICS_TOKEN", state["metrics_token"])
    env.setdefault("PROMETHEUS_MULTIPROC_DIR", str(VAR / "prometheus"))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def manage(env: dict, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, input=stdin,
                          text=True, check=True, capture_output=stdin is not None)


def ensure_admin(env: dict, state: dict) -> None:
    script = (
        "from django.contrib.auth import get_user_model\n"
        "import sys\n"
        "User = get_user_model()\n"
        "sys.exit(0 if User.objects.filter(username='admin').exists() else 3)\n"
    )
    exists = subprocess.run([PYTHON, "manage.py", "shell", "-c", script], cwd=ROOT, env=env,
                            check=False).returncode == 0
    if exists:
        print("admin login: user 'admin' (password printed on first run; "
              "reset with `.venv/bin/python manage.py changepassword admin`)")
        return
    password = secrets.token_urlsafe(12)
    create_env = {**env, "DJANGO_SUPERUSER_PASSWORD": password}
    subprocess.run([PYTHON, "manage.py", "createsuperuser", "--noinput", "--username", "admin",
                    "--email", "admin@localhost"], cwd=ROOT, env=create_env, check=True,
                   stdout=subprocess.DEVNULL)
    print("=" * 64)
    print(f"  admin login (shown once): admin / {password}")
    print("=" * 64)


def demo_tenant(env: dict, state: dict) -> None:
    credentials = {
        "client_id": state["demo_client_id"],
        "client_secret": state["demo_client_secret"],
        "secret_token": state["demo_secret_token"],
        "installation_url": (f"{env['ZOOM_OAUTH_BASE_URL']}/oauth/authorize?response_type=code"
                             f"&client_id={state['demo_client_id']}&redirect_uri="
                             f"http%3A%2F%2F{DEMO_HOST}%3A{WEB_PORT}%2Fadminapi%2Fzoom%2Foauth"
                             "%2Fauthorize"),
    }
    manage(env, "tenant_upsert", "--slug", "demo", "--name", "Demo customer (sandbox)",
           "--domain", DEMO_HOST, "--primary-domain", DEMO_HOST, stdin=json.dumps(credentials))


def sandbox_apps_json(state: dict) -> str:
    return json.dumps([{
        "client_id": state["demo_client_id"],
        "client_secret": state["demo_client_secret"],
        "secret_token": state["demo_secret_token"],
        "account_id": state["demo_account_id"],
        "redirect_uri": f"http://{DEMO_HOST}:{WEB_PORT}/adminapi/zoom/oauth/authorize",
        "event_url": f"http://{DEMO_HOST}:{WEB_PORT}/zoom/event",
        "scope_kind": "granular",  # an app created today carries granular scopes only
    }])


def wait_for(url: str, process: subprocess.Popen, seconds: float = 60) -> bool:
    try:
        wait_http(url, timeout=seconds, process=process)
    except RuntimeError:
        return False
    return True


def main() -> int:
    state = load_state()
    env = portal_env(state)
    Path(env["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)
    if sys.argv[1:2] == ["manage"]:
        # `make manage ARGS="zoom_sync demo"`: a command against this local portal, with the
        # keys and sandbox URLs that `make run` uses (they live in var/local.json, not .env).
        return subprocess.run([PYTHON, "manage.py", *sys.argv[2:]], cwd=ROOT, env=env,
                              check=False).returncode
    broker_dir = VAR / "broker"
    for sub in ("queue", "processed"):
        (broker_dir / sub).mkdir(parents=True, exist_ok=True)
    for stale in Path(env["PROMETHEUS_MULTIPROC_DIR"]).glob("*.db"):
        stale.unlink()  # counts of the last run's processes

    manage(env, "migrate", "--noinput", "-v", "0")
    ensure_admin(env, state)
    demo_tenant(env, state)

    commands = {
        # Zoom's dashboard data takes "a minute or two" (docs/zoom.md, "Data delay (code
        # 3001)"); the demo waits 10 s.
        "sandbox": [PYTHON, "manage.py", "zoom_sandbox", "--port", str(SANDBOX_PORT),
                    "--seed", "1", "--data-delay", "10", "--apps-json", sandbox_apps_json(state)],
        "web": [PYTHON, "manage.py", "runserver", f"127.0.0.1:{WEB_PORT}", "--noreload"],
        "worker": [PYTHON, "-m", "celery", "-A", "nectar_portal", "worker",
                   "-Q", "default,webhooks,sync,metrics", "-c", "2", "-l", "INFO"],
        "beat": [PYTHON, "-m", "celery", "-A", "nectar_portal", "beat", "-l", "INFO"],
    }
    # A worker or beat that dies is started again, as a process supervisor would in production;
    # the web server and the sandbox dying stop everything (the demo cannot go on without them).
    restartable = {"worker", "beat"}
    processes: dict[str, subprocess.Popen] = {}

    def start(name: str) -> None:
        processes[name] = subprocess.Popen(commands[name], cwd=ROOT, env=env)

    for name in commands:
        start(name)

    def stop(*_):
        for process in processes.values():
            if process.poll() is None:
                process.terminate()  # all at once, then wait for each
        for process in processes.values():
            process_stop(process)
        sys.exit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)

    if wait_for(f"http://127.0.0.1:{WEB_PORT}/healthz", processes["web"]):
        validate_demo_endpoint(state)
        print(f"""
Nectar portal is running.
  Admin:            http://{DEMO_HOST}:{WEB_PORT}/admin/
  Demo customer:    open http://{DEMO_HOST}:{WEB_PORT}/adminapi/zoom/oauth/start to authorize
  Zoom sandbox:     http://127.0.0.1:{SANDBOX_PORT}/  (end a meeting: see README.md)
  Metrics:          curl -H "Authorization: Bearer {env['PORTAL_METRICS_TOKEN']}" \\
                      http://127.0.0.1:{WEB_PORT}/metrics   (web and worker; docs/operations.md)
Ctrl-C stops everything.
""")
    while True:
        for name, process in list(processes.items()):
            if process.poll() is None:
                continue
            if name in restartable:
                print(f"{name} exited with status {process.returncode}; starting it again.",
                      file=sys.stderr)
                start(name)
            else:
                print(f"{name} exited with status {process.returncode}; stopping.",
                      file=sys.stderr)
                stop()
        time.sleep(1)


def validate_demo_endpoint(state: dict) -> None:
    """Ask the sandbox to run Zoom's URL validation against the demo endpoint, as Zoom would."""
    body = json.dumps({"client_id": state["demo_client_id"]}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{SANDBOX_PORT}/_sandbox/validate", data=body,
        headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            ok = json.loads(response.read()).get("ok")
        print("Zoom sandbox: the demo event endpoint answered URL validation "
              + ("correctly." if ok else "WRONGLY (see the web server's log)."))
    except (OSError, ValueError) as exc:
        print(f"warning: URL validation of the demo endpoint failed: {exc}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
