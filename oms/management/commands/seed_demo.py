"""Seed a demo organisation with four shops, four members and simulated orders.

    python manage.py seed_demo [--if-empty] [--reset] [--orders 2000] [--seed 42]
                               [--cases 48]

Orders come from ``orders.sandbox`` and go in through ``ingest_native``, exactly as a
platform's orders would; buyers' after-sales requests on them from
``aftersales.sandbox``. Demo data only: the logins it prints share one password.
"""

import random
import time
from collections import Counter
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from aftersales.sandbox import seed_cases
from orders.choices import Role, Stage
from orders.ingest import ingest_native
from orders.models import Membership, Order, Organisation, Shop
from orders.platforms import platforms
from orders.sandbox import simulator

ORG_NAME = "Demo Trading Co."
ORG_SLUG = "demo"
PASSWORD = "demo"  # noqa: S105 - demo data only, printed to the operator


def demo_shops():
    """(platform, DemoShop) for each demo shop the installed platforms declare."""
    return [
        (code, demo)
        for code, platform in platforms().items()
        for demo in platform.demo_shops
    ]


USERS = (
    ("owner", Role.OWNER, True),
    ("operator", Role.OPERATOR, False),
    ("service", Role.CUSTOMER_SERVICE, False),
    ("warehouse", Role.WAREHOUSE, False),
)
DUE_SOON_SHARE = 0.03


class Command(BaseCommand):
    help = "Create a demo organisation, shops, members and simulated orders."

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing when any organisation exists (safe on every start).",
        )
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Delete the demo organisation's orders first, then seed again.",
        )
        parser.add_argument("--orders", type=int, default=2000)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--days", type=int, default=90)
        parser.add_argument(
            "--cases", type=int, default=48, help="After-sales requests to open."
        )

    def handle(self, *args, **options):
        if options["if_empty"] and Organisation.objects.exists():
            self.stdout.write("Organisations exist already: seed_demo did nothing.")
            return
        existing = Organisation.objects.filter(slug=ORG_SLUG).first()
        if existing is not None and not options["reset"]:
            raise CommandError(
                f"The demo organisation '{ORG_SLUG}' exists already. Use --if-empty to "
                "skip seeding when data exists, or --reset to replace its orders."
            )
        if options["orders"] < 0:
            raise CommandError("--orders must be 0 or more.")
        started = time.monotonic()
        with transaction.atomic():
            if existing is not None:
                deleted, _ = Order.objects.filter(organisation=existing).delete()
                self.stdout.write(
                    f"Deleted the demo organisation's orders ({deleted} rows)."
                )
            org, shops = self._organisation(existing)
            self._members(org)
            counts = self._orders(shops, options)
            # Buyers' after-sales requests on those orders (some overdue, some due soon).
            counts["cases"] = len(
                seed_cases(
                    [shop for shop, _ in shops],
                    count=options["cases"],
                    rng=random.Random(options["seed"]),
                )
            )
        elapsed = time.monotonic() - started
        self._report(org, counts, elapsed)

    # --- set-up -------------------------------------------------------------------

    def _organisation(self, existing):
        org = existing or Organisation.objects.create(name=ORG_NAME, slug=ORG_SLUG)
        shops = []
        for platform, demo in demo_shops():
            shop, _ = Shop.objects.get_or_create(
                organisation=org,
                platform=platform,
                market=demo.market,
                defaults={
                    "name": demo.name,
                    "timezone": demo.timezone,
                    "currency": demo.currency,
                },
            )
            shop.full_clean()
            shops.append((shop, demo.share))
        return org, shops

    def _members(self, org):
        User = get_user_model()  # noqa: N806
        for username, role, superuser in USERS:
            user, created = User.objects.get_or_create(username=username)
            if created:
                user.set_password(PASSWORD)
                user.email = f"{username}@demo.example"
                user.is_staff = True
                user.is_superuser = superuser
                user.save()
            Membership.objects.update_or_create(
                user=user, organisation=org, defaults={"role": role}
            )

    def _orders(self, shops, options) -> Counter:
        rng = random.Random(options["seed"])
        now = timezone.now().replace(microsecond=0)
        total = options["orders"]
        counts: Counter = Counter()
        remaining = total
        for index, (shop, share) in enumerate(shops):
            count = remaining if index == len(shops) - 1 else round(total * share)
            count = min(count, remaining)
            remaining -= count
            sims = simulator(shop.platform).stream(
                count=count,
                now=now,
                rng=rng,
                market=shop.market,
                days=options["days"],
                due_soon_share=DUE_SOON_SHARE,
            )
            for sim in sims:
                result = ingest_native(
                    shop=shop, payload=sim.payload, channel=sim.channel
                )
                counts[result.outcome] += 1
        return counts

    # --- report -------------------------------------------------------------------

    def _report(self, org, counts, elapsed):
        out = self.stdout
        out.write(
            self.style.SUCCESS(
                f"Seeded {ORG_NAME}: {counts.get('created', 0)} orders created "
                f"in {elapsed:.1f}s."
            )
        )
        if set(counts) - {"created", "cases"}:
            out.write(f"Ingest outcomes: {dict(counts)}")
        out.write(f"After-sales requests opened: {counts.get('cases', 0)}")
        stages = [value for value, _ in Stage.choices]
        rows = (
            Order.objects.filter(organisation=org)
            .values("shop__name", "stage")
            .annotate(n=Count("id"))
            .order_by()
        )
        table: dict[str, Counter] = {}
        for row in rows:
            table.setdefault(row["shop__name"], Counter())[row["stage"]] = row["n"]
        width = max((len(name) for name in table), default=10)
        header = f"{'shop':<{width}}  " + "  ".join(f"{s[:10]:>10}" for s in stages)
        out.write(header + f"  {'total':>6}")
        for shop in org.shops.order_by("id"):
            stage_counts = table.get(shop.name, Counter())
            cells = "  ".join(f"{stage_counts.get(s, 0):>10}" for s in stages)
            out.write(f"{shop.name:<{width}}  {cells}  {sum(stage_counts.values()):>6}")
        due_soon = Order.objects.filter(
            organisation=org,
            next_deadline_at__gt=timezone.now(),
            next_deadline_at__lte=timezone.now() + timedelta(hours=6),
        ).count()
        out.write(f"Orders with a deadline in the next 6 hours: {due_soon}")
        out.write("")
        out.write("Logins (demo data only; password for all: demo):")
        for username, role, superuser in USERS:
            extra = " (superuser, /admin/)" if superuser else ""
            out.write(f"  {username:<10} {role.label}{extra}")
