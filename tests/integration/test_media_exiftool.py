"""Main acceptance test: after ``veil strip``, exiftool (an independent reader) finds nothing.

Runs the real CLI in a subprocess over every supported corpus file, then reads every output
with one ``exiftool -j -G1 -a`` call and checks, per file: no GPS, serial number,
owner/artist/creator, maker notes, thumbnail or preview, XMP or IPTC location; pixels identical
(Pillow, pillow-heif); videos still valid for ffprobe with the same audio/video streams.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.unit.media.corpus import ids, pixels, refused, supported

pytestmark = pytest.mark.integration
needs_exiftool = pytest.mark.skipif(shutil.which("exiftool") is None, reason="needs exiftool")
SUPPORTED = supported()
REFUSED = refused()

FORBIDDEN = re.compile(
    r"GPS|Serial|Owner|Artist|Creator|By-?line|Author|MakerNote|Thumbnail|Preview(Image|PNG)|"
    r"JpgFromRaw|OtherImage|MPImage|City|Country|Location|Province|Sub-?location|"
    r"ImageUniqueID|DocumentID|InstanceID|Copyright|Rights|PersonInImage|Region",
)
# Groups that carry no metadata of the file's subject (ExifTool's own, the filesystem, and
# the ICC profile, which is kept on purpose: its header describes the profile, not the photo).
NEUTRAL_GROUPS = {
    "ExifTool",
    "System",
    "File",
    "Composite",
    "ICC-header",
    "ICC_Profile",
    "ICC-view",
    "ICC-meas",
}
ZERO_DATE = "0000:00:00 00:00:00"


def _veil(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def stripped(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Strip the whole supported corpus with the CLI; exiftool JSON of each output by name."""
    if shutil.which("exiftool") is None:
        pytest.skip("needs exiftool")
    out = tmp_path_factory.mktemp("stripped")
    # Corpus names collide across folders; strip each folder into its own directory.
    by_dir: dict[Path, list[Path]] = {}
    for p in SUPPORTED:
        by_dir.setdefault(p.parent, []).append(p)
    for i, (folder, files) in enumerate(sorted(by_dir.items())):
        proc = _veil("strip", *map(str, files), "--out-dir", str(out / str(i)))
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.count("\n") == len(files)
        del folder
    outputs = sorted(p for p in out.rglob("*") if p.is_file())
    js = json.loads(
        subprocess.run(
            ["exiftool", "-j", "-G1", "-a", "-n", *map(str, outputs)],
            capture_output=True,
            check=False,
            timeout=300,
        ).stdout
    )
    return {str(Path(d["SourceFile"]).relative_to(out)): d for d in js}


def _key(path: Path) -> str:
    folders = sorted({p.parent for p in SUPPORTED})
    return f"{folders.index(path.parent)}/{path.name}"


@needs_exiftool
@pytest.mark.parametrize("path", SUPPORTED, ids=ids(SUPPORTED))
def test_exiftool_finds_no_identifying_metadata(
    path: Path, stripped: dict[str, dict[str, Any]]
) -> None:
    assert _leaks(path, stripped[_key(path)]) == []


def _leaks(path: Path, tags: dict[str, Any]) -> list[str]:
    leaks = []
    for key, value in tags.items():
        group, _, name = key.partition(":")
        if group in NEUTRAL_GROUPS or not name:
            continue
        if FORBIDDEN.search(name) or group.startswith(("MakerNotes", "IPTC", "Photoshop")):
            leaks.append(key)
        elif group.startswith("XMP") and not (path.suffix == ".xmp" and name == "Orientation"):
            leaks.append(key)
        elif "Date" in name and str(value) not in (ZERO_DATE, "0"):
            leaks.append(key)
    return leaks


@needs_exiftool
@pytest.mark.parametrize(
    "name",
    [
        "GPS.jpg",
        "with-gps.mov",
        "with-gps.mp4",
        "IMG_5195.HEIC",
        "ExifTool.tif",
        "Issue_473_Java.webp",
        "PNG.png",
        "XMP5.xmp",
    ],
)
def test_leak_check_flags_the_originals(name: str) -> None:
    """Negative control: the same check finds the metadata in the unstripped files."""
    path = next(p for p in SUPPORTED if p.name == name)
    js = json.loads(
        subprocess.run(
            ["exiftool", "-j", "-G1", "-a", "-n", str(path)],
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
    )[0]
    assert _leaks(path, js) != []


@needs_exiftool
@pytest.mark.parametrize("path", SUPPORTED, ids=ids(SUPPORTED))
def test_output_is_still_valid_and_lossless(
    path: Path, stripped: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    out_file = next(p for p in (tmp_path.parent.parent).rglob(path.name) if "stripped" in str(p))
    before, after = path.read_bytes(), out_file.read_bytes()
    if path.suffix.lower() in (".mp4", ".mov"):
        if shutil.which("ffprobe") is None:
            pytest.skip("needs ffprobe")
        assert len(after) == len(before)  # boxes neutralised in place, offsets unchanged
        assert _av_streams(out_file) == _av_streams(path)
        assert _frames(out_file) == _frames(path)
    elif path.suffix.lower() != ".xmp":
        assert pixels(after) == pixels(before)
        assert pixels(after) is not None or pixels(before) is None


def _av_streams(path: Path) -> list[str]:
    """Audio/video streams, without cover art (an attached picture is metadata we remove)."""
    proc = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    streams = json.loads(proc.stdout)["streams"]
    return sorted(
        f"{s['codec_type']}:{s['codec_name']}"
        for s in streams
        if s["codec_type"] in ("audio", "video")
        and not s.get("disposition", {}).get("attached_pic")
    )


def _frames(path: Path) -> str:
    proc = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "quiet",
            "-i",
            str(path),
            "-map",
            "0:V?",
            "-map",
            "0:a?",
            "-f",
            "framemd5",
            "-",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    return "\n".join(line for line in proc.stdout.splitlines() if not line.startswith("#"))


@pytest.mark.parametrize("path", REFUSED, ids=ids(REFUSED))
def test_cli_refuses_unsupported_without_output(path: Path, tmp_path: Path) -> None:
    proc = _veil("strip", str(path), "--out-dir", str(tmp_path))
    assert proc.returncode == 1
    assert path.name in proc.stderr and "unsupported" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_cli_allow_location_keeps_coarse_gps(tmp_path: Path) -> None:
    if shutil.which("exiftool") is None:
        pytest.skip("needs exiftool")
    src = next(p for p in SUPPORTED if p.name == "DSCN0010.jpg")
    assert (
        _veil("strip", str(src), "--out-dir", str(tmp_path), "--allow", "location").returncode == 0
    )
    js = json.loads(
        subprocess.run(
            ["exiftool", "-j", "-G1", "-a", "-n", str(tmp_path / src.name)],
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
    )[0]
    gps = {k.split(":")[1] for k in js if k.startswith("GPS:")}
    assert gps == {
        "GPSVersionID",
        "GPSLatitudeRef",
        "GPSLatitude",
        "GPSLongitudeRef",
        "GPSLongitude",
    }
    lat = float(js["GPS:GPSLatitude"])
    assert round(lat, 2) == lat


def test_cli_usage_error_without_out_dir(tmp_path: Path) -> None:
    proc = _veil("strip", str(SUPPORTED[0]))
    assert proc.returncode == 2
