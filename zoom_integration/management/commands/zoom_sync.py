"""``manage.py zoom_sync SLUG [--users] [--groups]``: a full directory sync now, in this process.

Neither flag means both (groups first, then users with their memberships). A progress bar is
drawn when stdout is a terminal; the last line summarises each run.
"""


from django.core.management.base import BaseCommand, CommandError

from tenants.selectors import tenant_get_by_slug
from zoom_integration.exceptions import ReauthorizationRequiredError, ZoomError
from zoom_integration.management.progress import terminal_progress


class Command(BaseCommand):
    help = "Syncs a tenant's Zoom users and groups now (both unless --users or --groups)."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="the tenant's slug")
        parser.add_argument("--users", action="store_true", help="sync users")
        parser.add_argument("--groups", action="store_true", help="sync groups")

    def handle(self, *args, slug, users, groups, **options):
        from zoom_integration.directory import SyncAlreadyRunningError, zoom_directory_sync

        tenant = tenant_get_by_slug(slug=slug)
        if tenant is None:
            raise CommandError(f"no tenant with slug {slug!r}")
        if not users and not groups:
            users = groups = True
        try:
            with terminal_progress(desc=f"sync {slug}", unit="item") as progress:
                runs = zoom_directory_sync(tenant=tenant, users=users, groups=groups,
                                           progress=progress)
        except SyncAlreadyRunningError as exc:
            raise CommandError(str(exc)) from None
        except ReauthorizationRequiredError as exc:
            raise CommandError(f"tenant {slug} must connect Zoom again: {exc}") from None
        except ZoomError as exc:
            raise CommandError(f"sync failed: {type(exc).__name__}: {exc}") from None
        for run in runs:
            self.stdout.write(
                f"{run.kind}: {run.status}; users seen {run.users_seen}, marked deleted "
                f"{run.users_marked_deleted}, groups {run.groups_seen}, API calls {run.api_calls}")
