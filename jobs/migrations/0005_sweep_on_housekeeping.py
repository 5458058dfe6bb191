"""The sweep runs on the housekeeping cluster (the web host's), so it never waits behind a render."""

from django.db import migrations

NAME = "cutline: sweep stalled jobs and abandoned uploads"
HOUSEKEEPING = "housekeeping"  # settings.HOUSEKEEPING_CLUSTER when this was written


def to_housekeeping(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).update(cluster=HOUSEKEEPING)


def to_any_cluster(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).update(cluster=None)


class Migration(migrations.Migration):
    dependencies = [("jobs", "0004_worker_holder_and_fleet")]

    operations = [migrations.RunPython(to_housekeeping, to_any_cluster)]
