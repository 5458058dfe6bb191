"""HEIF photos (an iPhone's HEIC) recognised by content and turned into JPEG."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from media_pipeline.errors import UnsupportedMedia
from media_pipeline.heif import heif_to_jpeg, is_heif
from tests.media_factory import make_heic, make_photo


@pytest.fixture(scope="module")
def heic(tmp_path_factory) -> Path:
    return make_heic(tmp_path_factory.mktemp("heif") / "IMG_0001.HEIC", width=640, height=480)


def test_a_heic_is_recognised_by_its_content_not_its_name(heic, tmp_path):
    renamed = tmp_path / "photo.jpg"
    renamed.write_bytes(heic.read_bytes())
    assert is_heif(heic) and is_heif(renamed)


def test_a_jpeg_or_a_tiny_file_is_not_heif(tmp_path):
    assert not is_heif(make_photo(tmp_path / "a.jpg", width=32, height=32))
    (tmp_path / "tiny.heic").write_bytes(b"ftyp")
    assert not is_heif(tmp_path / "tiny.heic")


def test_an_avif_sharing_heifs_generic_brand_is_not_taken_for_heif(tmp_path):
    ftyp = b"ftyp" + b"mif1" + b"\x00\x00\x00\x00" + b"mif1" + b"avif" + b"miaf"
    avif = tmp_path / "photo.heic"
    avif.write_bytes(len(ftyp + b"1234").to_bytes(4, "big") + ftyp + b"\x00" * 200)
    assert not is_heif(avif)


def test_it_becomes_a_jpeg_of_the_same_size_and_colours(heic, tmp_path):
    out = tmp_path / "photo.jpg"
    assert heif_to_jpeg(heic, out) == (640, 480)
    with Image.open(out) as image:
        assert image.format == "JPEG" and image.size == (640, 480)
        pixels = np.asarray(image.convert("RGB"), dtype=float)
    left, right = pixels[:, :300].mean(axis=(0, 1)), pixels[:, 340:].mean(axis=(0, 1))
    assert left[0] > 180 and left[2] < 70  # red
    assert right[2] > 180 and right[0] < 70  # blue


def test_a_heic_cut_short_is_refused_in_words(heic, tmp_path):
    broken = tmp_path / "broken.heic"
    broken.write_bytes(heic.read_bytes()[:600])
    with pytest.raises(UnsupportedMedia, match="damaged or incomplete"):
        heif_to_jpeg(broken, tmp_path / "out.jpg")


def test_a_heic_past_the_pixel_limit_is_refused_before_decoding(heic, tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(UnsupportedMedia, match="too large"):
        heif_to_jpeg(heic, tmp_path / "out.jpg")
    assert not (tmp_path / "out.jpg").exists()
