"""Benchmark the photo pipeline: photos per second and peak memory for 12 MP JPEG and HEIC.

Run: .venv/bin/python bench/photos.py [--server] [--repo PATH]

The last part (only it with `--server`) sends 8 concurrent uploads of large PNGs to a real
server and reports the total RSS of its workers: see bench/photos_server.py.

Each (photo, pipeline) runs in a fresh child process, so one pipeline's libraries, caches and
heap do not count against another. A child imports its libraries, warms them up on a tiny photo,
takes its RSS as the baseline, resets the kernel's peak-RSS mark (/proc/self/clear_refs), runs
one photo and reports VmHWM - baseline: the memory one photo costs. It then times more runs; the
figure is the median of those, on one core (libheif may use more threads for HEIC tiles).

Pipelines, all producing the same two outputs (a full-size copy without metadata and a
thumbnail with its long side 512 px):
- project: fieldobs.photos.processing.process_photo (full-size copy).
- project-1600: the same with max_side=1600 (a smaller copy; for comparison only).
- naive: Pillow full decode, exif_transpose, save the copy (q90), LANCZOS resize, save (q80).
- naive-thumb: only the thumbnail part of naive (decode + LANCZOS + save), for reference.
- pyvips: thumbnail() (shrink-on-load) plus autorot + jpegsave for the copy, when installed.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script: make the project importable without install

WIDTH, HEIGHT = 4032, 3024
THUMB = 512
TARGET_SPEEDUP = 3.0
TARGET_PEAK_MB = 150.0

Pipeline = Callable[[Path], tuple[int, int]]


@dataclass(frozen=True)
class Case:
    """One benchmark photo."""

    label: str
    filename: str
    warmup: str
    runs: int


# --- pipelines (run in the child) ------------------------------------------------------------


def run_project(path: Path) -> tuple[int, int]:
    """Process the photo with the project's pipeline."""
    from fieldobs.photos.processing import process_photo

    result = process_photo(path)
    return len(result.image), len(result.thumbnail)


def run_project_1600(path: Path) -> tuple[int, int]:
    """Process the photo with the project's pipeline, the copy limited to 1600 px."""
    from fieldobs.photos.processing import process_photo

    result = process_photo(path, max_side=1600)
    return len(result.image), len(result.thumbnail)


def run_naive(path: Path) -> tuple[int, int]:
    """Process the photo the obvious Pillow way, with the same outputs."""
    import pillow_heif
    from PIL import Image, ImageOps

    pillow_heif.register_heif_opener()
    with Image.open(path) as opened:
        img = ImageOps.exif_transpose(opened).convert("RGB")
    copy = io.BytesIO()
    img.save(copy, "JPEG", quality=90)
    thumb = io.BytesIO()
    img.resize(_fit(img.size), Image.Resampling.LANCZOS).save(thumb, "JPEG", quality=80)
    return len(copy.getvalue()), len(thumb.getvalue())


def run_naive_thumb(path: Path) -> tuple[int, int]:
    """Make only the thumbnail: full decode, LANCZOS resize, save."""
    import pillow_heif
    from PIL import Image, ImageOps

    pillow_heif.register_heif_opener()
    with Image.open(path) as opened:
        img = ImageOps.exif_transpose(opened).convert("RGB")
    thumb = io.BytesIO()
    img.resize(_fit(img.size), Image.Resampling.LANCZOS).save(thumb, "JPEG", quality=80)
    return 0, len(thumb.getvalue())


def run_pyvips(path: Path) -> tuple[int, int]:
    """Make both outputs with libvips: shrink-on-load thumbnail, autorotated full copy."""
    import pyvips

    thumb = pyvips.Image.thumbnail(str(path), THUMB).jpegsave_buffer(Q=80, keep=0)
    full = pyvips.Image.new_from_file(str(path)).autorot()
    return len(full.jpegsave_buffer(Q=90, keep=0)), len(thumb)


PIPELINES: dict[str, Pipeline] = {
    "project": run_project,
    "project-1600": run_project_1600,
    "naive": run_naive,
    "naive-thumb": run_naive_thumb,
    "pyvips": run_pyvips,
}


def _fit(size: tuple[int, int]) -> tuple[int, int]:
    """Return the thumbnail size for an image size."""
    scale = THUMB / max(size)
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


# --- measuring (in the child) ----------------------------------------------------------------


def _status_kb(field: str) -> int | None:
    """Read one memory figure (kB) of this process from /proc, None where there is no /proc."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark of this process; False where that is not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def child(pipeline_name: str, path: Path, warmup: Path, runs: int) -> dict[str, Any]:
    """Measure one pipeline on one photo in this (fresh) process."""
    pipeline = PIPELINES[pipeline_name]
    pipeline(warmup)  # load libraries and codecs so the baseline holds them
    baseline_kb = _status_kb("VmRSS") or 0
    exact = _reset_peak()
    started = time.perf_counter()
    sizes = pipeline(path)
    first = time.perf_counter() - started
    peak_kb = (_status_kb("VmHWM") if exact else None) or _max_rss_kb()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        pipeline(path)
        times.append(time.perf_counter() - started)
    return {
        "seconds": statistics.median(times or [first]),
        "peak_mb": (peak_kb - baseline_kb) / 1024,
        "exact_peak": exact,
        "copy_kb": sizes[0] / 1024,
        "thumb_kb": sizes[1] / 1024,
    }


def _max_rss_kb() -> int:
    """Return this process's lifetime peak RSS (kB): an upper bound when no reset was possible."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


# --- making the photos (in the parent) ---------------------------------------------------------


def make_photos(folder: Path) -> None:
    """Write the 12 MP JPEGs and HEIC, and tiny warm-up photos, into the folder."""
    import fieldobs.photos.processing  # noqa: F401  (registers the HEIF codec with Pillow)

    pixels = _scene()
    pixels.save(folder / "o1.jpg", "JPEG", quality=92, exif=_exif(1))
    pixels.save(folder / "o6.jpg", "JPEG", quality=92, exif=_exif(6))
    # iPhone-like: 512 px grid tiles, stored landscape with an irot box (from EXIF bytes).
    pixels.save(
        folder / "o6.heic",
        "HEIF",
        quality=60,
        exif=_exif(6),
        tile_size=512,
        enc_params={"preset": "ultrafast"},
    )
    small = pixels.resize((64, 48))
    small.save(folder / "warm.jpg", "JPEG", exif=_exif(6))
    small.save(folder / "warm.heic", "HEIF", exif=_exif(6))


def _scene() -> Any:
    """Draw a 12 MP photo-like picture: gradients, soft texture, fine sensor-like noise, edges."""
    from PIL import Image, ImageDraw

    def channel(sigma: float, angle: int) -> Image.Image:
        texture = Image.effect_noise((WIDTH // 8, HEIGHT // 8), sigma).resize(
            (WIDTH, HEIGHT), Image.Resampling.BICUBIC
        )
        gradient = Image.linear_gradient("L").rotate(angle).resize((WIDTH, HEIGHT))
        grain = Image.effect_noise((WIDTH, HEIGHT), 20)
        return Image.blend(Image.blend(gradient, texture, 0.45), grain, 0.2)

    img = Image.merge("RGB", [channel(60, 0), channel(50, 90), channel(70, 45)])
    draw = ImageDraw.Draw(img)
    for i in range(60):
        x, y = i * 131 % WIDTH, i * 71 % HEIGHT
        draw.rectangle((x, y, x + 320, y + 200), outline=(255 - i * 4, i * 4, 128), width=6)
    return img


def _exif(orientation: int) -> bytes:
    """Return EXIF bytes with GPS, camera, capture time and the orientation."""
    from PIL import ExifTags, Image

    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "FieldCam"
    exif[ExifTags.Base.Model] = "FC-12"
    exif[ExifTags.Base.Orientation] = orientation
    exif.get_ifd(ExifTags.IFD.GPSInfo).update(
        {1: "N", 2: (52.0, 31.0, 12.5), 3: "E", 4: (13.0, 24.0, 36.1)}
    )
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = "2026:11:23 10:15:00"
    return exif.tobytes()


# --- running and reporting (in the parent) -----------------------------------------------------


def measure(pipeline: str, folder: Path, case: Case) -> dict[str, Any]:
    """Run one pipeline on one photo in a child process and return its figures."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        pipeline,
        str(folder / case.filename),
        str(folder / case.warmup),
        str(case.runs),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        if "HEVC" in done.stderr:
            return {"error": "this build has no HEVC decoder"}
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": last[:110]}
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def pipelines_here() -> list[str]:
    """Return the pipelines to run: pyvips only where it is installed."""
    names = ["project", "project-1600", "naive", "naive-thumb"]
    try:
        import pyvips  # noqa: F401
    except (ImportError, OSError) as exc:
        print(f"pyvips: skipped ({exc.__class__.__name__}: {exc})")
    else:
        names.append("pyvips")
    return names


def report(case: Case, size_mb: float, results: dict[str, dict[str, Any]]) -> list[str]:
    """Print one photo's table and return the verdicts on the targets."""
    print(f"\n{case.label} ({size_mb:.1f} MB)")
    columns = ("ms/photo", "photos/s", "peak MB", "copy KB", "thumb KB")
    print(f"  {'pipeline':12}" + "".join(f" {c:>9}" for c in columns))
    for name, figures in results.items():
        if "error" in figures:
            print(f"  {name:12} n/a: {figures['error']}")
            continue
        mark = "" if figures["exact_peak"] else "*"
        print(
            f"  {name:12} {figures['seconds'] * 1000:9.1f} {1 / figures['seconds']:9.2f}"
            f" {figures['peak_mb']:8.1f}{mark:1}"
            f" {figures['copy_kb']:9.0f} {figures['thumb_kb']:9.0f}"
        )
    return _ratios(case, results)


def _ratios(case: Case, results: dict[str, dict[str, Any]]) -> list[str]:
    """Print the project's ratios against the others; return target verdicts."""
    project = results["project"]
    if "error" in project:
        return [f"{case.label}: project pipeline failed"]
    for name, figures in results.items():
        if name.startswith("project") or "error" in figures:
            continue
        speed = figures["seconds"] / project["seconds"]
        memory = project["peak_mb"] / figures["peak_mb"] if figures["peak_mb"] > 0 else float("nan")
        print(f"  project vs {name:11}: {speed:5.2f}× throughput, {memory:5.2f}× peak memory")
    verdicts = []
    naive = results.get("naive", {})
    if "seconds" in naive:
        speed = naive["seconds"] / project["seconds"]
        ok = "PASS" if speed >= TARGET_SPEEDUP else "MISS"
        verdicts.append(f"{ok} {case.label}: {speed:.2f}× naive (target ≥ {TARGET_SPEEDUP:.0f}×)")
    ok = "PASS" if project["peak_mb"] < TARGET_PEAK_MB else "MISS"
    verdicts.append(
        f"{ok} {case.label}: peak {project['peak_mb']:.0f} MB (target < {TARGET_PEAK_MB:.0f} MB)"
    )
    return verdicts


CASES = [
    Case("JPEG 12 MP, EXIF+GPS, orientation 1 (lossless path)", "o1.jpg", "warm.jpg", 8),
    Case("JPEG 12 MP, EXIF+GPS, orientation 6 (re-encode path)", "o6.jpg", "warm.jpg", 4),
    Case("HEIC 12 MP, 512 px grid, irot, EXIF+GPS", "o6.heic", "warm.heic", 2),
]


def main() -> None:
    """Generate the photos, measure every pipeline on each and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=4, metavar=("PIPELINE", "PHOTO", "WARMUP", "RUNS"))
    parser.add_argument("--server", action="store_true", help="only the concurrent-upload part")
    parser.add_argument("--repo", type=Path, default=REPO, help="serve this checkout's code")
    args = parser.parse_args()
    if args.child:
        name, photo, warmup, runs = args.child
        print(json.dumps(child(name, Path(photo), Path(warmup), int(runs))))
        return
    from bench import photos_server

    if args.server:
        photos_server.report(args.repo.resolve())
        return
    started = time.perf_counter()
    names = pipelines_here()
    verdicts: list[str] = []
    upper_bounds = False
    with tempfile.TemporaryDirectory(prefix="fieldobs-bench-") as tmp:
        folder = Path(tmp)
        make_photos(folder)
        print(
            f"photos generated in {time.perf_counter() - started:.1f} s;"
            f" Python {sys.version.split()[0]}, {os.cpu_count()} CPUs"
        )
        for case in CASES:
            results = {name: measure(name, folder, case) for name in names}
            size_mb = (folder / case.filename).stat().st_size / 1e6
            verdicts += report(case, size_mb, results)
            upper_bounds |= any(not r.get("exact_peak", True) for r in results.values())
    if upper_bounds:
        print("\n* peak is ru_maxrss (an upper bound): this kernel refused a peak-RSS reset")
    print("\ntargets:")
    for verdict in verdicts:
        print(f"  {verdict}")
    photos_server.report(args.repo.resolve())
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
