# Join sessions grouped into people: per-person results move from the session to the person.

import django.db.models.deletion
from django.db import migrations, models

RESULT_FIELDS = ("quality", "quality_reason", "mos", "stream_summaries")


def sessions_to_people(apps, schema_editor):
    Participant = apps.get_model("zoom_integration", "ZoomParticipant")
    Person = apps.get_model("zoom_integration", "ZoomMeetingPerson")
    Meeting = apps.get_model("zoom_integration", "ZoomMeeting")
    sessions = Participant.objects.filter(person__isnull=True).order_by("meeting_id", "position")
    for session in sessions.iterator(chunk_size=1000):
        person = Person.objects.create(
            meeting_id=session.meeting_id, position=session.position, identity_kind="session",
            identity_key=str(session.position), user_id=session.user_id,
            display_name=session.user_name, email=session.email, sessions_count=1,
            **{name: getattr(session, name) for name in RESULT_FIELDS})
        Participant.objects.filter(pk=session.pk).update(person=person)
    Meeting.objects.update(sessions_count=models.F("participants_count"))


def people_to_sessions(apps, schema_editor):
    Participant = apps.get_model("zoom_integration", "ZoomParticipant")
    for session in Participant.objects.filter(person__isnull=False).select_related("person"):
        for name in RESULT_FIELDS:
            setattr(session, name, getattr(session.person, name))
        session.save(update_fields=list(RESULT_FIELDS))


class Migration(migrations.Migration):

    dependencies = [
        ('zoom_integration', '0003_capabilities_and_parked_states'),
    ]

    operations = [
        migrations.AddField(
            model_name='zoommeeting',
            name='sessions_count',
            field=models.PositiveIntegerField(default=0, help_text='Join sessions in the meeting (waiting-room stints left out).'),
        ),
        migrations.AddField(
            model_name='zoomparticipant',
            name='customer_key',
            field=models.CharField(blank=True, help_text="Set by apps joining through Zoom's SDKs.", max_length=128),
        ),
        migrations.AddField(
            model_name='zoomparticipant',
            name='in_waiting_room',
            field=models.BooleanField(default=False, help_text='A waiting-room stint: stored, left out of counts and quality.'),
        ),
        migrations.AddField(
            model_name='zoomparticipant',
            name='participant_uuid',
            field=models.CharField(blank=True, help_text="Zoom's id of this join session.", max_length=128),
        ),
        migrations.AddField(
            model_name='zoomparticipant',
            name='registrant_id',
            field=models.CharField(blank=True, max_length=128),
        ),
        migrations.AddField(
            model_name='zoomparticipant',
            name='status',
            field=models.CharField(blank=True, help_text="Zoom's `status`: in_meeting or in_waiting_room.", max_length=32),
        ),
        migrations.AlterField(
            model_name='zoommeeting',
            name='classified_participants',
            field=models.PositiveIntegerField(default=0, help_text='People classified Good or Poor.'),
        ),
        migrations.AlterField(
            model_name='zoommeeting',
            name='participants_count',
            field=models.PositiveIntegerField(default=0, help_text='People: join sessions of one person grouped, waiting room left out.'),
        ),
        migrations.AlterField(
            model_name='zoommeeting',
            name='poor_participants',
            field=models.PositiveIntegerField(default=0, help_text='Poor people.'),
        ),
        migrations.CreateModel(
            name='ZoomMeetingPerson',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('position', models.PositiveIntegerField(help_text="Order of the person's first session.")),
                ('identity_kind', models.CharField(choices=[('user', 'Zoom user'), ('registrant', 'Registrant'), ('customer_key', 'SDK customer key'), ('email', 'Email'), ('session', 'One session')], max_length=12)),
                ('identity_key', models.CharField(help_text="The identifier the sessions share (lower-cased email); the session's position when it stands alone.", max_length=300)),
                ('display_name', models.CharField(blank=True, max_length=256)),
                ('email', models.CharField(blank=True, max_length=254)),
                ('sessions_count', models.PositiveIntegerField(default=0)),
                ('quality', models.CharField(choices=[('good', 'Good'), ('poor', 'Poor'), ('unclassified', 'Unclassified')], default='unclassified', max_length=12)),
                ('quality_reason', models.TextField(blank=True, help_text='e.g. "audio input jitter 80 ms > 30 ms"')),
                ('mos', models.FloatField(blank=True, help_text='E-model estimate (ITU-T G.107).', null=True)),
                ('stream_summaries', models.JSONField(default=dict, help_text="Per stream and metric: min/avg/max over all sessions' samples.")),
                ('meeting', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='people', to='zoom_integration.zoommeeting')),
                ('user', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='meeting_people', to='zoom_integration.zoomuser')),
            ],
            options={
                'verbose_name_plural': 'meeting people',
                'ordering': ['position'],
            },
        ),
        migrations.AddField(
            model_name='zoomparticipant',
            name='person',
            field=models.ForeignKey(blank=True, help_text='Empty for a waiting-room stint of no one who joined.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='sessions', to='zoom_integration.zoommeetingperson'),
        ),
        migrations.AddConstraint(
            model_name='zoommeetingperson',
            constraint=models.UniqueConstraint(fields=('meeting', 'position'), name='one_person_per_position'),
        ),
        migrations.AddConstraint(
            model_name='zoommeetingperson',
            constraint=models.UniqueConstraint(fields=('meeting', 'identity_kind', 'identity_key'), name='one_person_per_identity'),
        ),
        # Meetings fetched before people existed: each session becomes a person of its own
        # with the session's stored result, so their pages and counts stay as they were.
        migrations.RunPython(sessions_to_people, people_to_sessions),
        migrations.RemoveField(
            model_name='zoomparticipant',
            name='mos',
        ),
        migrations.RemoveField(
            model_name='zoomparticipant',
            name='quality',
        ),
        migrations.RemoveField(
            model_name='zoomparticipant',
            name='quality_reason',
        ),
        migrations.RemoveField(
            model_name='zoomparticipant',
            name='stream_summaries',
        ),
    ]
