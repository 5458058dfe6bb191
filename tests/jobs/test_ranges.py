"""HTTP byte ranges (jobs/ranges.py): which Range headers are served, and the 200/206/416 answers players rely on."""

import pytest

from jobs.ranges import Unsatisfiable, parse_range
from jobs.worker import output_name

SIZE = 1000

# (Range header, what parse_range makes of it for a 1000-byte file: (first, last) inclusive, or None for all)
SERVED = {
    "no header": (None, None),
    "an empty header": ("", None),
    "the first 100 bytes": ("bytes=0-99", (0, 99)),
    "from byte 100 to the end": ("bytes=100-", (100, 999)),
    "the final 50 bytes": ("bytes=-50", (950, 999)),
    "a suffix longer than the file": ("bytes=-5000", (0, 999)),
    "an end past the file, clipped": ("bytes=10-999999999", (10, 999)),
    "the last byte alone": ("bytes=999-999", (999, 999)),
    "spaces and capitals": (" Bytes = 5 - 9 ", (5, 9)),
    "several ranges (sent whole)": ("bytes=0-1,5-9", None),
    "another unit (sent whole)": ("pages=1-2", None),
    "an end before the start (sent whole)": ("bytes=9-1", None),
    "no numbers at all (sent whole)": ("bytes=-", None),
    "garbage (sent whole)": ("bytes=abc", None),
}
UNSATISFIABLE = {
    "a start at the end of the file": ("bytes=1000-", SIZE),
    "a start past the end": ("bytes=5000-6000", SIZE),
    "an empty suffix": ("bytes=-0", SIZE),
    "a suffix of an empty file": ("bytes=-10", 0),
    "any start in an empty file": ("bytes=0-", 0),
}


@pytest.mark.parametrize("header, expected", SERVED.values(), ids=SERVED.keys())
def test_a_range_header_is_read_as_one_inclusive_span_or_as_the_whole_file(header, expected):
    assert parse_range(header, SIZE) == expected


@pytest.mark.parametrize("header, size", UNSATISFIABLE.values(), ids=UNSATISFIABLE.keys())
def test_a_well_formed_range_outside_the_file_cannot_be_satisfied(header, size):
    with pytest.raises(Unsatisfiable):
        parse_range(header, size)


# ---------------------------------------------------------------- the answers, through GET /api/download/<id>


@pytest.mark.parametrize(
    "header, first, last",
    [("bytes=0-99", 0, 99), ("bytes=100-", 100, None), ("bytes=-50", -50, None), ("bytes=10-999999999", 10, None)],
)
def test_a_byte_range_is_answered_with_206_and_content_range(client, completed_job, media_root, header, first, last):
    data = (media_root / output_name(completed_job)).read_bytes()
    expected = data[first:None if last is None else last + 1]
    response = client.get(f"/api/download/{completed_job.id}", HTTP_RANGE=header)
    assert response.status_code == 206
    start = first if first >= 0 else len(data) + first
    assert response["Content-Range"] == f"bytes {start}-{start + len(expected) - 1}/{len(data)}"
    assert int(response["Content-Length"]) == len(expected)
    assert b"".join(response.streaming_content) == expected


def test_a_range_past_the_end_is_416(client, completed_job, media_root):
    size = (media_root / output_name(completed_job)).stat().st_size
    response = client.get(f"/api/download/{completed_job.id}", HTTP_RANGE=f"bytes={size}-")
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{size}"


@pytest.mark.parametrize("header", ["bytes=0-1,5-9", "pages=1-2", "bytes=9-1"])
def test_a_range_we_do_not_serve_gets_the_whole_file(client, completed_job, header):
    response = client.get(f"/api/download/{completed_job.id}", HTTP_RANGE=header)
    assert response.status_code == 200


def test_a_range_for_an_older_version_of_the_file_gets_the_whole_file(client, completed_job):
    response = client.get(f"/api/download/{completed_job.id}", HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE='"stale"')
    assert response.status_code == 200
    etag = response["ETag"]
    response = client.get(f"/api/download/{completed_job.id}", HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE=etag)
    assert response.status_code == 206


def test_a_head_request_describes_the_download_without_sending_it(client, completed_job, media_root):
    response = client.head(f"/api/download/{completed_job.id}")
    assert response.status_code == 200
    assert int(response["Content-Length"]) == (media_root / output_name(completed_job)).stat().st_size
    assert response["Accept-Ranges"] == "bytes"
    assert response.content == b""


def test_a_range_conditional_on_the_files_date_is_served_only_while_the_file_is_unchanged(client, completed_job):
    url = f"/api/download/{completed_job.id}"
    last_modified = client.head(url)["Last-Modified"]
    assert client.get(url, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE=last_modified).status_code == 206
    assert client.get(url, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE="Mon, 01 Jan 2001 00:00:00 GMT").status_code == 200
