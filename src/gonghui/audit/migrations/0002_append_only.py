"""On PostgreSQL, refuse UPDATE and DELETE of audit entries in the database itself."""

from django.db import migrations

from gonghui.audit.append_only import append_only


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]
    operations = [append_only("audit_auditentry", "audit_entry_append_only", "audit entries")]
