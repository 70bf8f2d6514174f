from django.core.management.base import BaseCommand, CommandError

from leases import consistency


class Command(BaseCommand):
    help = (
        "Verify with SQL every invariant of SPEC.md (addresses reserved and bound once, inside their "
        "subnets, pool counts and sizes, MACs, audit events). Lists offenders and exits non-zero."
    )

    def handle(self, *args, **options):
        violations = consistency.find_violations()
        for violation in violations:
            self.stdout.write(str(violation))
        if violations:
            raise CommandError(f"{len(violations)} consistency violations")
        self.stdout.write(f"consistent: {len(consistency.EVERY_CHECK)} checks passed")
