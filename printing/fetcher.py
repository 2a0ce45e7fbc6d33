"""The only way WeasyPrint may load anything: data: URIs and our own static files.

Names and addresses come from the public; a page must never make the print server fetch a
remote or local URL chosen by someone else (STYLE.md 7, after Indico's receipts)."""
from __future__ import annotations

import mimetypes
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from weasyprint.urls import URLFetcher, URLFetcherResponse

PACKAGE = Path(__file__).resolve().parent
ALLOWED_FOLDERS = (PACKAGE / "static", PACKAGE / "templates")
BASE_URL = PACKAGE.as_uri() + "/"  # templates say href="static/print.css"


class RefusedURL(ValueError):
    """A URL that printing does not load."""


class LocalFetcher(URLFetcher):
    """Serves data: URIs and files under ALLOWED_FOLDERS; refuses everything else. With
    fail_on_errors, a refusal stops the render instead of leaving a hole in the page."""

    def __init__(self) -> None:
        super().__init__(fail_on_errors=True, allow_redirects=False)

    def fetch(self, url: str, headers: dict | None = None) -> URLFetcherResponse:
        scheme = urlsplit(url).scheme.lower()
        if scheme == "data":
            return super().fetch(url, headers)  # decoded in memory by urllib's DataHandler
        if scheme == "file":
            parts = urlsplit(url)
            if parts.netloc not in ("", "localhost"):
                raise RefusedURL(f"printing does not load {url!r}")
            path = Path(url2pathname(unquote(parts.path))).resolve()
            if any(path.is_relative_to(folder) for folder in ALLOWED_FOLDERS) and path.is_file():
                content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                return URLFetcherResponse(path.as_uri(), path.read_bytes(), {"Content-Type": content_type})
        raise RefusedURL(f"printing does not load {url!r}")
