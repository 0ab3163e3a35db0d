"""Run the periodic jobs once, synchronously."""

from django.core.management.base import BaseCommand, CommandError

from oms.core.errors import ValidationFailed
from oms.core.timeutils import parse_iso
from orders.jobs import JOBS, run_job


class Command(BaseCommand):
    help = "Run due jobs once (all, or --job NAME), optionally as of --now ISO-TIME."

    def add_arguments(self, parser):
        parser.add_argument("--job", choices=sorted(JOBS), help="run only this job")
        parser.add_argument(
            "--now", help="as-of time, ISO-8601 with offset (default: now)"
        )

    def handle(self, *args, job=None, now=None, **options):
        try:
            as_of = parse_iso(now, field="--now") if now else None
        except ValidationFailed as exc:
            raise CommandError(exc.message) from exc
        failed = False
        for name in [job] if job else sorted(JOBS):
            run = run_job(name, now=as_of)
            counts = ", ".join(f"{k} {v}" for k, v in run.counts.items())
            self.stdout.write(f"{name}: {run.status} ({counts})")
            for error in run.errors:
                self.stderr.write(f"  error: {error}")
            failed = failed or bool(run.errors)
        if failed:
            raise CommandError(
                "some jobs reported errors (see above and the job runs in the admin)"
            )
