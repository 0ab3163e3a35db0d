"""Print a platform's state machines (orders, then each case kind) as Markdown with
Mermaid diagrams."""

from django.core.management.base import BaseCommand, CommandError

from orders.machine import describe
from orders.platforms import get_platform, registry


class Command(BaseCommand):
    help = "Print a platform's statuses, transitions, deadlines and policy (Markdown + Mermaid)."

    def add_arguments(self, parser):
        parser.add_argument(
            "platform", nargs="?", help="e.g. taobao; omit for all platforms"
        )

    def handle(self, *args, platform=None, **options):
        specs = registry()
        if platform and platform not in specs:
            raise CommandError(
                f"Unknown platform {platform!r}; known: {', '.join(specs)}"
            )
        for code in [platform] if platform else list(specs):
            self.stdout.write(describe(specs[code], get_platform(code).cases))
            self.stdout.write("")
