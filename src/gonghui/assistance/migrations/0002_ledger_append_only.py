"""On PostgreSQL, refuse UPDATE and DELETE of ledger entries in the database itself: money
is corrected by a new entry, never by rewriting an old one."""

from django.db import migrations

from gonghui.audit.append_only import append_only


class Migration(migrations.Migration):
    dependencies = [("assistance", "0001_initial")]
    operations = [
        append_only("assistance_ledgerentry", "ledger_entry_append_only", "ledger entries")
    ]
