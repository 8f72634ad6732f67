from django.core.management.base import BaseCommand

from smsportal import demo


class Command(BaseCommand):
    help = "Creates the demo data (staff, two tenants, channels, templates, contacts, a month of traffic)."

    def handle(self, *args, **options):
        if demo.seed(stdout=self.stdout):
            self.stdout.write(self.style.SUCCESS("Demo data created."))
        else:
            self.stdout.write("Demo data already present; reusing it.")
