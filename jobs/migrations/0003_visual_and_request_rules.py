"""`Video` is `Visual` (a clip or a photo; the API still calls them `videos`), and the request's rules
come from media_pipeline/limits.py: the shapes as choices, the duration's range as validators.
No column changes type: the table is renamed and the rest is Django-level only."""

import django.core.validators
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0002_sweep_schedule"),
    ]

    operations = [
        migrations.RenameModel(old_name="Video", new_name="Visual"),
        migrations.AlterField(
            model_name="visual",
            name="job",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="visuals", to="jobs.job"
            ),
        ),
        migrations.AlterField(
            model_name="job",
            name="aspect_ratio",
            field=models.CharField(
                choices=[("9:16", "9:16 Vertical"), ("1:1", "1:1 Square"), ("4:5", "4:5 Portrait"), ("16:9", "16:9 Landscape")],
                default="9:16",
                max_length=8,
            ),
        ),
        migrations.AlterField(
            model_name="job",
            name="duration",
            field=models.FloatField(
                default=30.0,
                help_text="Requested length of the video, in seconds",
                validators=[
                    django.core.validators.MinValueValidator(5.0),
                    django.core.validators.MaxValueValidator(60.0),
                ],
            ),
        ),
    ]
