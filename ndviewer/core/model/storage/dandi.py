"""DANDI archive references turned into the URL to read, through the public DANDI REST API.

Accepted, besides plain http(s) URLs (returned as they are):

- ``DANDI:000123/0.230101.1234/sub-x/sub-x_ses-y.nwb`` (the version may be ``draft`` or left
  out: then the most recent published version, else the draft);
- ``DANDI:000123`` or ``DANDI:000123/draft`` alone, when the dandiset holds one NWB file (else
  the refusal names how many there are and the first ones, to pick from);
- an asset id (``5f8a0c3e-...``, bare or after ``DANDI:``);
- a dandiset page URL: ``https://dandiarchive.org/dandiset/000123[/version][/files?location=
  sub-x/...]``.

The answer is the asset's ``/assets/{id}/download/`` URL on the API, which redirects to the
bytes on S3 (``RemoteFile`` follows it). ``NDVIEWER_DANDI_API`` points the API elsewhere (the
tests' fake server); API failures raise ``RemoteReadError`` with one sentence.
"""

from __future__ import annotations

import json
import os
import re
import urllib.parse
from dataclasses import dataclass

from ndviewer.core.model.storage.locations import is_asset_id, is_url
from ndviewer.core.model.storage.remote import (
    HttpClient,
    RemoteReadError,
    Stats,
    network_timeout,
)

DEFAULT_API = "https://api.dandiarchive.org/api"
_VERSION = re.compile(r"^(draft|\d+\.\d{6}\.\d{4})$")
_DANDISET = re.compile(r"^\d{6}$")
_WEB_HOSTS = ("dandiarchive.org", "www.dandiarchive.org", "gui.dandiarchive.org")
LISTED = 5  # assets named in a refusal that asks the user to pick


@dataclass(frozen=True)
class Asset:
    asset_id: str
    path: str
    size: int | None


def api_base() -> str:
    return os.environ.get("NDVIEWER_DANDI_API", DEFAULT_API).rstrip("/")


def download_url(asset_id: str) -> str:
    return f"{api_base()}/assets/{asset_id}/download/"


def _get_json(url: str) -> dict:
    client = HttpClient(url, network_timeout(), Stats())
    try:
        status, _headers, body = client.request("GET")
    finally:
        client.close()
    if status == 404:
        raise LookupError(url)
    if status != 200:
        raise RemoteReadError(f"Cannot read {url}: the DANDI API answered {status}.")
    try:
        return json.loads(body)
    except ValueError:
        raise RemoteReadError(f"Cannot read {url}: the DANDI API sent no JSON.") from None


def _latest_version(dandiset: str) -> str:
    try:
        info = _get_json(f"{api_base()}/dandisets/{dandiset}/")
    except LookupError:
        raise RemoteReadError(f"Cannot open DANDI:{dandiset}: there is no such dandiset.") from None
    published = info.get("most_recent_published_version") or {}
    return published.get("version") or "draft"


def list_assets(dandiset: str, version: str, prefix: str = "") -> list[Asset]:
    """The assets of a dandiset version whose path starts with ``prefix`` (all pages)."""
    query = urllib.parse.urlencode(
        {"path": prefix, "page_size": 1000} if prefix else {"page_size": 1000}
    )
    url: str | None = f"{api_base()}/dandisets/{dandiset}/versions/{version}/assets/?{query}"
    assets: list[Asset] = []
    while url:
        try:
            page = _get_json(url)
        except LookupError:
            raise RemoteReadError(
                f"Cannot open DANDI:{dandiset}/{version}: the dandiset or version does not exist."
            ) from None
        for item in page.get("results", []):
            assets.append(Asset(item["asset_id"], item["path"], item.get("size")))
        url = page.get("next")
    return assets


def _pick(dandiset: str, version: str, path: str) -> str:
    assets = list_assets(dandiset, version, path)
    where = f"DANDI:{dandiset}/{version}" + (f"/{path}" if path else "")
    exact = [a for a in assets if a.path == path]
    if exact:
        return download_url(exact[0].asset_id)
    prefix = path.rstrip("/") + "/" if path else ""
    nwb = [a for a in assets if a.path.startswith(prefix) and a.path.endswith(".nwb")]
    if len(nwb) == 1:
        return download_url(nwb[0].asset_id)
    if not nwb:
        raise RemoteReadError(f"Cannot open {where}: it holds no NWB file.")
    names = ", ".join(a.path for a in nwb[:LISTED])
    more = f" and {len(nwb) - LISTED} more" if len(nwb) > LISTED else ""
    raise RemoteReadError(
        f"Cannot open {where}: it holds {len(nwb)} NWB files; name one, e.g. "
        f"DANDI:{dandiset}/{version}/{nwb[0].path} (files: {names}{more})."
    )


def _from_parts(dandiset: str, rest: list[str]) -> str:
    if not _DANDISET.match(dandiset):
        raise RemoteReadError(f"Cannot open DANDI:{dandiset}: a dandiset id has six digits.")
    if rest and _VERSION.match(rest[0]):
        version, rest = rest[0], rest[1:]
    else:
        version = _latest_version(dandiset)
    return _pick(dandiset, version, "/".join(part for part in rest if part))


def dandiset_parts(location: str) -> tuple[str, list[str]] | None:
    """(dandiset id, the path segments after it) of a DANDI reference or dandiset link."""
    text = location.strip()
    if text.upper().startswith("DANDI:"):
        body = text[len("DANDI:") :].strip("/")
        if is_asset_id(body):
            return None
        dandiset, *rest = body.split("/")
        return dandiset, rest
    if is_url(text):
        parts = urllib.parse.urlsplit(text)
        segments = [s for s in parts.path.split("/") if s]
        if parts.hostname in _WEB_HOSTS and segments[:1] == ["dandiset"] and len(segments) >= 2:
            location_arg = urllib.parse.parse_qs(parts.query).get("location", [""])[0]
            rest = [s for s in segments[2:] if s != "files"]
            return segments[1], [*rest, *location_arg.strip("/").split("/")]
    return None


def nwb_assets(location: str) -> tuple[str, str, list[Asset]]:
    """(dandiset, version, its NWB assets under the reference's folder), to pick one from."""
    parts = dandiset_parts(location)
    if parts is None:
        raise RemoteReadError(f"Cannot list {location}: it names no dandiset.")
    dandiset, rest = parts
    if not _DANDISET.match(dandiset):
        raise RemoteReadError(f"Cannot list DANDI:{dandiset}: a dandiset id has six digits.")
    if rest and _VERSION.match(rest[0]):
        version, rest = rest[0], rest[1:]
    else:
        version = _latest_version(dandiset)
    prefix = "/".join(part for part in rest if part)
    if prefix.endswith(".nwb"):
        prefix = prefix.rpartition("/")[0]
    assets = [a for a in list_assets(dandiset, version, prefix) if a.path.endswith(".nwb")]
    return dandiset, version, assets


def resolve(location: str) -> str:
    """The http(s) URL to read for ``location`` (a URL not on DANDI is returned as it is)."""
    text = location.strip()
    if is_asset_id(text):
        return download_url(text)
    if text.upper().startswith("DANDI:") and is_asset_id(text[len("DANDI:") :].strip("/")):
        return download_url(text[len("DANDI:") :].strip("/"))
    parts = dandiset_parts(text)
    if parts is not None:
        return _from_parts(*parts)
    return text


def dandiset_assets(location: str) -> list[str]:
    """Download URLs of every NWB asset of ``DANDI:000123`` or ``DANDI:000123/VERSION``
    (batch runs over a whole dandiset), in the archive's path order."""
    body = location.strip()[len("DANDI:") :].strip("/")
    dandiset, *rest = body.split("/")
    if not _DANDISET.match(dandiset):
        raise RemoteReadError(f"Cannot list DANDI:{dandiset}: a dandiset id has six digits.")
    version = rest[0] if rest and rest[0] else _latest_version(dandiset)
    assets = [a for a in list_assets(dandiset, version) if a.path.endswith(".nwb")]
    return [download_url(a.asset_id) for a in sorted(assets, key=lambda a: a.path)]
