"""What a job may ask for: how many visuals, how long the video, which shapes.

The one home of these rules. The planner enforces them; the settings, the form, the API, the editor
page and its JavaScript (through data- attributes) all read them from here, so changing one is one edit.
"""

from __future__ import annotations

MAX_VISUALS = 5  # clips or photos per job: the planner gives each a readable moment in 5 s
MIN_CLIP = 0.5  # seconds: a shorter clip can't hold even a quick cut at half speed
MIN_SONG = 3.0  # seconds: below this five visuals can't each get a readable moment

MIN_DURATION = 5.0  # seconds of output
MAX_DURATION = 60.0
DEFAULT_DURATION = 30.0

# The output's shape: its aspect ratio, its frame size in pixels, and what the editor calls it.
ASPECTS: dict[str, tuple[int, int]] = {
    "9:16": (1080, 1920),
    "1:1": (1080, 1080),
    "4:5": (1080, 1350),
    "16:9": (1920, 1080),
}
ASPECT_LABELS: dict[str, str] = {"9:16": "Vertical", "1:1": "Square", "4:5": "Portrait", "16:9": "Landscape"}
DEFAULT_ASPECT = "9:16"

FPS = 30  # output frames per second
