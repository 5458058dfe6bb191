"""Posting a small real job the way a client does (the clip and song come from conftest's clip_and_song)."""

from pathlib import Path

from django.test import Client


def post_job(client: Client, files: tuple[Path, Path], *, url: str = "/api/upload", fields: dict | None = None,
             **extra):
    """A CLEAN_VLOG job of one clip and a song, with more form `fields`; `extra` are request headers (HTTP_...)."""
    clip, song = files
    with open(clip, "rb") as video, open(song, "rb") as music:
        return client.post(url, {"style": "CLEAN_VLOG", "videos": video, "music": music, **(fields or {})}, **extra)
