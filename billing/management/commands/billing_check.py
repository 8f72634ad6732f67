"""Proves every cached balance equals the sum of its ledger (exit status 1 when one does not)."""

from django.core.management.base import BaseCommand, CommandError

from billing.selectors import ledger_check


class Command(BaseCommand):
    help = "Checks that each account's cached balance and reserved total equal its ledger sums."

    def handle(self, *args, **options):
        mismatches = ledger_check()
        for tenant_id, cached, ledger, cached_reserved, ledger_reserved in mismatches:
            self.stderr.write(
                f"tenant {tenant_id}: balance cached {cached} ≠ ledger {ledger}; "
                f"reserved cached {cached_reserved} ≠ ledger {ledger_reserved}"
            )
        if mismatches:
            raise CommandError(f"{len(mismatches)} account(s) disagree with the ledger")
        self.stdout.write("All balances equal their ledger sums.")
