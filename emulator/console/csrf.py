"""Cross-site request forgery: the console's state-changing requests come from its own pages only.

The edge already refuses foreign Host names (DNS rebinding) and cross-origin requests from
origins the user did not allow. The console's actions (stop, delete, a test invocation) are
stricter still: a POST that carries the console's own header, which a page of another origin
can only send after a CORS preflight, and, when the browser says where it comes from (Origin,
Sec-Fetch-Site), from this very origin, not merely from an origin allowed with --allowed-origin.
"""

from __future__ import annotations

from starlette.requests import Request

from emulator.origins import normalize

HEADER = "X-Emulator-Console"
HEADER_VALUE = "1"


def refusal(request: Request) -> str | None:
    """Why the request may not change anything, or None when it may."""
    if request.headers.get(HEADER) != HEADER_VALUE:
        return f"Console actions need the {HEADER} header (sent by the console's own pages)."
    origin = request.headers.get("origin")
    host = request.headers.get("host")
    if origin is not None and (
        host is None or normalize(origin) != normalize(f"{request.url.scheme}://{host}")
    ):
        return f"Console actions are refused from another origin ({origin})."
    site = request.headers.get("sec-fetch-site")
    if site is not None and site.lower() not in ("same-origin", "none"):
        return f"Console actions are refused from a {site} page."
    return None
