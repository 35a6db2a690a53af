#!/usr/bin/env python3
"""Fetch the browser libraries Gonghui serves itself (no CDN: deployments run on closed
networks and every asset comes from the package).

ECharts is someone else's code and large, so it is not committed: this script downloads
the pinned release from the npm registry, checks the tarball against the registry's
sha512 integrity (pinned here, so a changed tarball is refused), and extracts
``dist/echarts.min.js`` and the licence into ``src/gonghui/web/static/vendor/``.

    python scripts/vendor.py            # fetch if missing or not the pinned version
    python scripts/vendor.py --force    # fetch again

The tarball is kept in ``var/vendor/`` so a second checkout on the same machine, or a
machine that was given the file, needs no network. Only the standard library is used.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import os
import sys
import tarfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "src" / "gonghui" / "web" / "static" / "vendor"
CACHE = ROOT / "var" / "vendor"
REGISTRY = os.environ.get("NPM_REGISTRY", "https://registry.npmjs.org").rstrip("/")

# `npm view echarts@5.6.0 version dist.integrity`
ECHARTS_VERSION = "5.6.0"
ECHARTS_INTEGRITY = (
    "sha512-"
    "oTbVTsXfKuEhxftHqL5xprgLoc0k7uScAwtryCgWF6hPYFLRwOUHiFmHGCBKP5NPFNkDVopOieyUqYGH8Fa3kA=="
)
# Members of the tarball -> files written under TARGET.
ECHARTS_FILES = {
    "package/dist/echarts.min.js": "echarts.min.js",
    "package/LICENSE": "echarts.LICENSE.txt",
}
VERSION_FILE = TARGET / "echarts.version"


def integrity_of(data: bytes) -> str:
    """The npm Subresource-Integrity string of ``data`` (sha512, base64)."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=120) as response:
        return bytes(response.read())


def tarball(name: str, version: str, integrity: str) -> bytes:
    """The verified release tarball, from the cache or the registry."""
    cached = CACHE / f"{name}-{version}.tgz"
    if cached.exists():
        data = cached.read_bytes()
        if integrity_of(data) == integrity:
            return data
        cached.unlink()  # a partial or altered download: fetch it again
    url = f"{REGISTRY}/{name}/-/{name}-{version}.tgz"
    print(f"vendor: fetching {url}", file=sys.stderr)
    data = fetch(url)
    found = integrity_of(data)
    if found != integrity:
        raise SystemExit(f"vendor: {url} does not match the pinned integrity\n  {found}")
    CACHE.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(data)
    return data


def extract(data: bytes, members: dict[str, str]) -> None:
    TARGET.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for member, name in members.items():
            source = archive.extractfile(member)
            if source is None:
                raise SystemExit(f"vendor: {member} is not a file in the tarball")
            partial = TARGET / f".{name}.part"
            partial.write_bytes(source.read())
            partial.replace(TARGET / name)  # atomic: a page never gets half a file


def up_to_date() -> bool:
    wanted = f"echarts {ECHARTS_VERSION} {ECHARTS_INTEGRITY}\n"
    present = all((TARGET / name).exists() for name in ECHARTS_FILES.values())
    return present and VERSION_FILE.exists() and VERSION_FILE.read_text() == wanted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--force", action="store_true", help="fetch even if up to date")
    args = parser.parse_args(argv)
    if up_to_date() and not args.force:
        return 0
    extract(tarball("echarts", ECHARTS_VERSION, ECHARTS_INTEGRITY), ECHARTS_FILES)
    VERSION_FILE.write_text(f"echarts {ECHARTS_VERSION} {ECHARTS_INTEGRITY}\n")
    print(f"vendor: echarts {ECHARTS_VERSION} -> {TARGET.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
