import contextlib

from django.core.management.base import BaseCommand, CommandError

from audit import retention
from core.choices import AdminAction
from core.domain import COMMAND_LINE, CallContext
from core.errors import ServiceError


def days(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value


class Command(BaseCommand):
    help = (
        "Delete audit events older than --older-than days (default IPRESMGR_AUDIT_RETENTION_DAYS; 0 keeps "
        "everything), in small batches, each its own short transaction. Never deletes the RequireIP events "
        "that prove a binding still in force (or one that ended within the retention), nor the prune runs' "
        "own events. The run is audited (admin action audit_prune)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=days,
            default=None,
            metavar="DAYS",
            help="delete events older than this many days; 0 keeps everything "
            f"(default: IPRESMGR_AUDIT_RETENTION_DAYS, now {retention.retention_days()})",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=retention.DEFAULT_BATCH_SIZE,
            metavar="N",
            help="events looked at per batch, each batch one transaction (default %(default)s)",
        )
        parser.add_argument(
            "--export",
            metavar="FILE",
            help="before deleting each batch, append its events to FILE as JSON lines ('-': standard output; "
            "this command's messages then go to standard error)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="count (and export) what would be deleted; delete nothing"
        )

    def handle(self, *args, older_than, batch_size, export, dry_run, **options):
        older_than = retention.retention_days() if older_than is None else older_than
        to_stdout = export == "-"
        say = self.stderr if to_stdout else self.stdout
        verbosity = options["verbosity"]

        def on_batch(batch: retention.Batch) -> None:
            if verbosity >= 2 and batch.deleted:
                verb = "would delete" if dry_run else "deleted"
                say.write(f"batch {batch.number}: {verb} {batch.deleted}, kept {batch.kept}, up to {batch.last_at}")

        stream = None
        try:
            if export and not to_stdout:
                stream = open(export, "a", encoding="utf-8")  # noqa: SIM115 - closed below
            report = retention.audit_prune(
                ctx=CallContext(actor=COMMAND_LINE, admin_action=AdminAction.AUDIT_PRUNE),
                older_than_days=older_than,
                batch_size=batch_size,
                export=self.stdout if to_stdout else stream,
                export_name=export or "",
                dry_run=dry_run,
                on_batch=on_batch,
            )
        except ServiceError as exc:
            raise CommandError(exc.msg) from exc
        except OSError as exc:
            raise CommandError(f"export to {export} failed, nothing more deleted: {exc}") from exc
        finally:
            if stream is not None:
                # Each batch was flushed before it was deleted; only a failed batch's rows may be left
                # in the buffer, and that error is the one reported.
                with contextlib.suppress(OSError):
                    stream.close()
        say.write(report.summary())
