"""A small HTML page for people trying the sandbox by hand (make run): buttons that end a
meeting or webinar, end a meeting without sending the event (a missed meeting, found only by
reconciling with Zoom's meeting list), add a user and re-run URL validation for each app.

Each button posts a form to /panel/<action>; the action goes through the same `Sandbox`
methods as the JSON control API, then the browser is sent back to the page.
"""

from __future__ import annotations

import html
from urllib.parse import quote

from .protocol import Request, Response

_ACTIONS = ("meeting", "silent_meeting", "webinar", "user", "validate")


def panel_page(sandbox, req: Request) -> Response:
    done = html.escape(req.query.get("done", ""))
    rows = []
    for app in sandbox.apps():
        client_id = html.escape(app["client_id"])
        target = html.escape(app.get("event_url") or "no event URL: events are not delivered")
        buttons = "".join(
            f'<form method="post" action="/panel/{action}">'
            f'<input type="hidden" name="client_id" value="{client_id}">'
            f"{extra}<button>{label}</button></form>"
            for action, label, extra in (
                ("meeting", "End a meeting",
                 '<input name="participants" type="number" value="8" min="1" max="1000" '
                 'aria-label="participants"> participants, '
                 '<input name="minutes" type="number" value="20" min="1" max="600" '
                 'aria-label="minutes"> minutes '),
                ("silent_meeting", "End a meeting without sending the event", ""),
                ("webinar", "End a webinar", ""),
                ("user", "Add a user", ""),
                ("validate", "Validate the event endpoint", ""),
            ))
        kind = html.escape(app.get("scope_kind", ""))
        rows.append(f"<section><h2>App {client_id}</h2><p>Account "
                    f"{html.escape(app.get('account_id', ''))} ({kind} scopes); events go to "
                    f"{target}</p>"
                    f"{buttons}</section>")
    notice = f'<p class="done">{done}</p>' if done else ""
    return Response.html(f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Zoom sandbox</title><style>
body{{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem}}
section{{border:1px solid #ccd;border-radius:6px;padding:0 1rem 1rem;margin:1rem 0}}
form{{margin:.5rem 0}} input{{width:5rem}} .done{{background:#e7f6e7;padding:.5rem}}
</style></head><body><h1>Zoom sandbox</h1>
<p>A local stand-in for Zoom. What you do here reaches the portal the way Zoom's events would;
the portal then fetches the data from this sandbox's API.</p>{notice}{''.join(rows)}
<p><a href="/_sandbox/stats">Statistics (JSON)</a></p></body></html>""")


def panel_action(sandbox, req: Request, action: str) -> Response:
    form = req.form()
    client_id = form.get("client_id", "")
    if action not in _ACTIONS:
        return Response.html("Unknown action.", 404)
    try:
        if action == "meeting":
            result = sandbox.end_meeting(
                kind="meeting", client_id=client_id,
                participants=_bounded(form.get("participants"), 8, 1, 1000),
                minutes=_bounded(form.get("minutes"), 20, 1, 600))
            message = f"Ended meeting {result['uuid']}; meeting.ended sent."
        elif action == "silent_meeting":
            result = sandbox.end_meeting(kind="meeting", client_id=client_id, participants=6,
                                         minutes=15, send_event=False)
            message = (f"Ended meeting {result['uuid']} WITHOUT sending meeting.ended; "
                       "only Zoom's meeting list knows it.")
        elif action == "webinar":
            result = sandbox.end_meeting(kind="webinar", client_id=client_id)
            message = f"Ended webinar {result['uuid']}; webinar.ended sent."
        elif action == "user":
            result = sandbox.create_user(client_id=client_id)
            message = f"Created user {result['user']['email']}; user.created sent."
        else:
            result = sandbox.validate_url(client_id)
            message = ("The portal answered URL validation correctly." if result["ok"]
                       else "The portal did NOT answer URL validation correctly.")
    except (ValueError, LookupError) as exc:  # ConfigError is a ValueError
        message = f"Could not do that: {exc}"
    return Response(303, b"", {"Location": "/?done=" + quote(message)})


def _bounded(value: str | None, default: int, low: int, high: int) -> int:
    try:
        return max(low, min(high, int(value or default)))
    except ValueError:
        return default
