"""Web tools: ``web_fetch`` (a page as text) and ``web_search`` (pluggable backends).

``web_fetch`` refuses private, loopback, link-local and other non-public addresses after
resolving the host name (IPv4 and IPv6, redirects re-checked at every hop) unless
``VAOS_TOOLS__WEB_ALLOW_PRIVATE`` is set. Without a network, both say so plainly.

Search backends: Brave (``BRAVE_API_KEY`` or ``VAOS_TOOLS__BRAVE_API_KEY``) and SearXNG
(``VAOS_TOOLS__SEARXNG_URL``, self-hosted); ``SEARCH_BACKENDS`` takes more.
"""

from __future__ import annotations

import asyncio
import html
import ipaddress
import os
import re
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
from pydantic import Field

from vaos import __version__
from vaos.tools.base import Tool, ToolArgs, ToolContext, ToolError, ToolServices

USER_AGENT = f"VAOS/{__version__} (+https://github.com/vaos)"
MAX_BODY_BYTES = 5_000_000
MAX_REDIRECTS = 5
_SCRIPT = re.compile(r"<(script|style|noscript|template)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_BLOCK = re.compile(r"<\s*(br|/p|/div|/li|/h[1-6]|/tr|/section|/article)\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")
_SPACES = re.compile(r"[ \t\f\v]+")
_LINES = re.compile(r"\n\s*\n+")


def html_to_text(markup: str) -> str:
    text = _COMMENT.sub(" ", _SCRIPT.sub(" ", markup))
    text = _BLOCK.sub("\n", text)
    text = html.unescape(_TAG.sub(" ", text))
    text = _SPACES.sub(" ", text)
    return _LINES.sub("\n\n", "\n".join(line.strip() for line in text.splitlines())).strip()


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or (isinstance(ip, ipaddress.IPv4Address) and ip in ipaddress.ip_network("100.64.0.0/10"))
    )


async def check_public(url: str) -> None:
    """``ToolError`` unless every address of the URL's host is public."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ToolError(f"only http(s) URLs with a host are fetched, not {url!r}")
    host = parts.hostname
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, parts.port or 443, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ToolError(f"cannot resolve {host}: {exc.strerror or exc} (offline?)") from None
    for info in infos:
        address = str(info[4][0])
        if not _public(address):
            raise ToolError(f"{host} resolves to a non-public address ({address}); refused")


class WebFetchArgs(ToolArgs):
    url: str = Field(description="http(s) URL to fetch.")
    max_chars: int = Field(default=15_000, ge=500, le=100_000, description="Longest text returned.")


class WebFetch(Tool[WebFetchArgs]):
    name = "web_fetch"
    description = "Fetch a web page (http/https) and return its text (HTML stripped)."
    args_model = WebFetchArgs
    network: bool = True

    async def run(self, args: WebFetchArgs, ctx: ToolContext) -> str:
        settings = ctx.settings.tools
        timeout = httpx.Timeout(min(settings.web_timeout, ctx.settings.agent.tool_timeout), connect=5.0)
        url = args.url.strip()
        async with httpx.AsyncClient(
            timeout=timeout, follow_redirects=False, headers={"User-Agent": USER_AGENT}, trust_env=False
        ) as client:
            for _ in range(MAX_REDIRECTS + 1):
                if not settings.web_allow_private:
                    await check_public(url)
                elif urlsplit(url).scheme not in ("http", "https"):
                    raise ToolError(f"only http(s) URLs are fetched, not {url!r}")
                try:
                    async with client.stream("GET", url) as response:
                        if response.is_redirect and "location" in response.headers:
                            url = urljoin(url, response.headers["location"])
                            continue
                        body = bytearray()
                        async for chunk in response.aiter_bytes():
                            body.extend(chunk)
                            if len(body) > MAX_BODY_BYTES:
                                break
                        status = response.status_code
                        ctype = response.headers.get("content-type", "")
                        encoding = response.encoding or "utf-8"
                except httpx.ConnectError as exc:
                    raise ToolError(f"cannot reach {urlsplit(url).hostname}: {exc} (offline?)") from None
                except httpx.TimeoutException:
                    raise ToolError(f"{url} did not answer within {timeout.read:g} s") from None
                except httpx.HTTPError as exc:
                    raise ToolError(f"fetching {url} failed: {exc}") from None
                break
            else:
                raise ToolError(f"more than {MAX_REDIRECTS} redirects")
        if status >= 400:
            raise ToolError(f"{url} answered HTTP {status}")
        raw = bytes(body).decode(encoding, errors="replace")
        if "html" in ctype or raw.lstrip()[:15].lower().startswith(("<!doctype html", "<html")):
            text = html_to_text(raw)
        elif ctype.startswith(("text/", "application/json", "application/xml")) or not ctype:
            text = raw
        else:
            return f"{url}: {ctype} content ({len(body)} bytes), not text."
        if len(text) > args.max_chars:
            text = text[: args.max_chars] + f"\n\n[truncated at {args.max_chars} characters]"
        return f"Content of {url}:\n\n{text}"


# -- search -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SearchResult:
    title: str
    url: str
    snippet: str


SearchFn = Callable[[str, int, ToolServices], Awaitable[list[SearchResult]]]


@dataclass(frozen=True, slots=True)
class SearchBackend:
    name: str
    configured: Callable[[ToolServices], str | None]  # None when usable, else what is missing
    search: SearchFn


def _brave_key(services: ToolServices) -> str | None:
    key = services.settings.tools.brave_api_key
    return key.get_secret_value() if key is not None else os.environ.get("BRAVE_API_KEY") or None


async def _brave(query: str, count: int, services: ToolServices) -> list[SearchResult]:
    key = _brave_key(services)
    data = await _get_json(
        "https://api.search.brave.com/res/v1/web/search",
        {"q": query, "count": count},
        {"X-Subscription-Token": key or "", "Accept": "application/json"},
        services,
    )
    rows = (data.get("web") or {}).get("results") or []
    return [
        SearchResult(str(r.get("title", "")), str(r.get("url", "")), str(r.get("description", "")))
        for r in rows
    ]


async def _searxng(query: str, count: int, services: ToolServices) -> list[SearchResult]:
    base = (services.settings.tools.searxng_url or "").rstrip("/")
    data = await _get_json(f"{base}/search", {"q": query, "format": "json"}, {}, services)
    rows = data.get("results") or []
    return [
        SearchResult(str(r.get("title", "")), str(r.get("url", "")), str(r.get("content", "")))
        for r in rows[:count]
    ]


async def _get_json(
    url: str, params: dict[str, Any], headers: dict[str, str], services: ToolServices
) -> dict[str, Any]:
    timeout = httpx.Timeout(
        min(services.settings.tools.web_timeout, services.settings.agent.tool_timeout), connect=5.0
    )
    try:
        async with httpx.AsyncClient(
            timeout=timeout, headers={"User-Agent": USER_AGENT}, trust_env=False
        ) as client:
            response = await client.get(url, params=params, headers=headers)
    except httpx.ConnectError as exc:
        raise ToolError(
            f"the search backend at {urlsplit(url).hostname} cannot be reached: {exc} (offline?)"
        ) from None
    except httpx.TimeoutException:
        raise ToolError("the search backend did not answer in time") from None
    except httpx.HTTPError as exc:
        raise ToolError(f"search failed: {exc}") from None
    if response.status_code >= 400:
        raise ToolError(f"the search backend answered HTTP {response.status_code}")
    try:
        data = response.json()
    except ValueError:
        raise ToolError("the search backend did not answer with JSON") from None
    return data if isinstance(data, dict) else {}


SEARCH_BACKENDS: dict[str, SearchBackend] = {
    "brave": SearchBackend(
        "brave",
        lambda s: None if _brave_key(s) else "no Brave key: set BRAVE_API_KEY or VAOS_TOOLS__BRAVE_API_KEY",
        _brave,
    ),
    "searxng": SearchBackend(
        "searxng",
        lambda s: None if s.settings.tools.searxng_url else "no SearXNG server: set VAOS_TOOLS__SEARXNG_URL",
        _searxng,
    ),
}


def search_backend(services: ToolServices) -> tuple[SearchBackend | None, str]:
    """The backend to use, or None and why there is none."""
    wanted = services.settings.tools.web_search_backend
    if wanted == "none":
        return None, "web search is turned off (VAOS_TOOLS__WEB_SEARCH_BACKEND=none)"
    names = list(SEARCH_BACKENDS) if wanted == "auto" else [wanted]
    missing: list[str] = []
    for name in names:
        backend = SEARCH_BACKENDS.get(name)
        if backend is None:
            missing.append(f"unknown backend {name!r}")
            continue
        problem = backend.configured(services)
        if problem is None:
            return backend, ""
        missing.append(problem)
    return None, "no search backend configured: " + "; or ".join(missing)


class WebSearchArgs(ToolArgs):
    query: str = Field(min_length=1, max_length=400, description="What to search for.")
    count: int = Field(default=5, ge=1, le=20)


class WebSearch(Tool[WebSearchArgs]):
    name = "web_search"
    description = "Search the web; returns title, URL and snippet per result."
    args_model = WebSearchArgs
    network: bool = True

    def unavailable(self, services: ToolServices) -> str | None:
        backend, why = search_backend(services)
        return None if backend is not None else why

    async def run(self, args: WebSearchArgs, ctx: ToolContext) -> str:
        backend, why = search_backend(ctx.services)
        if backend is None:
            raise ToolError(why)
        results = await backend.search(args.query, args.count, ctx.services)
        if not results:
            return f"No results for: {args.query}"
        return "\n\n".join(f"**{r.title}**\n{r.url}\n{r.snippet}".strip() for r in results)


TOOLS: tuple[type[Tool[Any]], ...] = (WebFetch, WebSearch)
