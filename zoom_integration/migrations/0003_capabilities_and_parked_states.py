"""Capabilities on the connection (the app's kind, the missing capabilities), and the parked
states "waiting for a scope" and "no data from Zoom"."""

from django.db import migrations, models


def capabilities_from_scopes(apps, schema_editor):
    # Existing connections: recompute from the granted scopes, as the portal now does.
    from zoom_integration.capabilities import capability_state

    Connection = apps.get_model("zoom_integration", "ZoomConnection")
    for conn in Connection.objects.exclude(scopes="").iterator():
        state = capability_state(scope=conn.scopes)
        conn.scope_kind = state.kind
        conn.missing_capabilities = " ".join(c.key for c in state.missing)
        conn.missing_scopes = " ".join(state.missing_names)
        conn.save(update_fields=["scope_kind", "missing_capabilities", "missing_scopes"])


class Migration(migrations.Migration):

    dependencies = [
        ("zoom_integration", "0002_reconcile_overview"),
    ]

    operations = [
        migrations.AddField(
            model_name="zoomconnection",
            name="scope_kind",
            field=models.CharField(blank=True, help_text="granular (apps created since 2024) or classic, read from the granted scopes.", max_length=10),
        ),
        migrations.AddField(
            model_name="zoomconnection",
            name="missing_capabilities",
            field=models.TextField(blank=True, help_text="Required capabilities (keys, space-separated) that no granted scope covers, or that Zoom refused with code 4711."),
        ),
        migrations.AlterField(
            model_name="zoomconnection",
            name="missing_scopes",
            field=models.TextField(blank=True, help_text="The scope names to add for the missing capabilities, in the names of the app's kind."),
        ),
        migrations.AlterField(
            model_name="zoommeeting",
            name="fetch_status",
            field=models.CharField(choices=[("scheduled", "Scheduled"), ("waiting", "Waiting for Zoom's data"), ("fetching", "Fetching"), ("done", "Fetched"), ("failed", "Failed"), ("skipped", "Skipped"), ("parked", "Parked until the rate limit resets"), ("no_scope", "Waiting for a scope"), ("no_data", "No data from Zoom")], default="scheduled", max_length=10),
        ),
        migrations.AlterField(
            model_name="syncrun",
            name="status",
            field=models.CharField(choices=[("running", "Running"), ("succeeded", "Succeeded"), ("failed", "Failed"), ("no_scope", "Waiting for a scope")], default="running", max_length=12),
        ),
        migrations.RunPython(capabilities_from_scopes, migrations.RunPython.noop),
    ]
