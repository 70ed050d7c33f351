"""Visit reports as PDF through WeasyPrint, which renders the console's own HTML and SVG."""

from __future__ import annotations

import base64
from pathlib import Path

from PIL import ImageFile

MISSING_LIBRARIES = (
    "PDF needs WeasyPrint's system libraries (Pango). On Debian or Ubuntu: "
    "apt-get install -y libpango-1.0-0 libpangoft2-1.0-0"
)


def _import_weasyprint() -> None:
    """Import WeasyPrint and undo the process-wide Pillow setting it changes."""
    import weasyprint  # noqa: F401  (loads Pango through ctypes; OSError when absent)

    # Importing weasyprint.images sets Pillow's LOAD_TRUNCATED_IMAGES for the whole process,
    # after which every upload in this worker would accept a half-sent photo as whole. The
    # reports embed only photos that already passed the checks, so nothing here needs it.
    ImageFile.LOAD_TRUNCATED_IMAGES = False


def unavailable() -> str | None:
    """Return why PDFs cannot be made here (what to install), or None when they can."""
    try:
        _import_weasyprint()
    except Exception:
        # Whatever stops the import (missing libraries, a broken install), the report page
        # must still open: its PDF link says what to install instead.
        return MISSING_LIBRARIES
    return None


def data_uri(path: Path, content_type: str) -> str:
    """Return a file as a data: URI, so the renderer never fetches anything."""
    return f"data:{content_type};base64,{base64.b64encode(path.read_bytes()).decode()}"


def render_pdf(html: str) -> bytes:
    """Render self-contained HTML (inline CSS, data: images) to PDF bytes."""
    _import_weasyprint()
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    # Only data: URIs: a report must never make the server fetch a URL.
    fetcher = URLFetcher(allowed_protocols=("data",))
    pdf: bytes = HTML(string=html, url_fetcher=fetcher).write_pdf()
    return pdf
