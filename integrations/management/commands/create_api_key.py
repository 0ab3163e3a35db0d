"""Create an API key for an organisation and print it once."""

from django.core.management.base import BaseCommand, CommandError

from integrations.models import ApiKey, Scope
from orders.models import Organisation


class Command(BaseCommand):
    help = "Create an API key: --org SLUG --name NAME --scopes orders:read,orders:write,..."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="organisation slug")
        parser.add_argument("--name", required=True)
        parser.add_argument(
            "--scopes", required=True, help="comma-separated: " + ",".join(Scope.values)
        )
        parser.add_argument(
            "--shops", default="", help="comma-separated shop ids (default: all shops)"
        )

    def handle(self, *args, org, name, scopes, shops, **options):
        organisation = Organisation.objects.filter(slug=org).first()
        if organisation is None:
            raise CommandError(f"No organisation with slug {org!r}.")
        wanted = [scope.strip() for scope in scopes.split(",") if scope.strip()]
        try:
            key, raw = ApiKey.issue(organisation=organisation, name=name, scopes=wanted)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if shops:
            shop_ids = [int(value) for value in shops.split(",")]
            found = list(organisation.shops.filter(pk__in=shop_ids))
            if len(found) != len(set(shop_ids)):
                key.delete()
                raise CommandError("Some shops are not this organisation's.")
            key.shops.set(found)
        self.stdout.write(
            f"API key {name!r} for {organisation.name} (scopes: {', '.join(key.scopes)})."
        )
        self.stdout.write("Store it now; it is not shown again:")
        self.stdout.write(raw)
