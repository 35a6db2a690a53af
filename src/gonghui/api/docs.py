"""``/api/docs/``: the OpenAPI document as a plain page, with no script from a CDN
(deployments are often on closed networks, DESIGN §5). The machine-readable document is
``/api/schema/``; this page lists its operations for a person."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from drf_spectacular.generators import SchemaGenerator

METHODS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    description: str
    parameters: list[str]
    request: str
    responses: list[str]


def _ref_name(content: dict[str, Any]) -> str:
    for media in content.values():
        schema = media.get("schema", {})
        ref = schema.get("$ref") or schema.get("items", {}).get("$ref", "")
        return ref.rsplit("/", 1)[-1]
    return ""


@dataclass
class Tag:
    name: str
    description: str  # the view's docstring, which every operation without its own repeats
    operations: list[Operation]


def tags(schema: dict[str, Any]) -> list[Tag]:
    """Operations by tag, in the order of the document."""
    by_tag: dict[str, list[Operation]] = {}
    for path, item in schema.get("paths", {}).items():
        for method in METHODS:
            if method not in item:
                continue
            op = item[method]
            by_tag.setdefault((op.get("tags") or ["api"])[0], []).append(
                Operation(
                    method=method.upper(),
                    path=path,
                    summary=op.get("summary", ""),
                    description=op.get("description", ""),
                    parameters=[p["name"] for p in op.get("parameters", []) if p["in"] == "query"],
                    request=_ref_name(op.get("requestBody", {}).get("content", {})),
                    responses=sorted(op.get("responses", {})),
                )
            )
    grouped = []
    for name, ops in by_tag.items():
        common = ops[0].description
        ops = [replace(op, description="") if op.description == common else op for op in ops]
        grouped.append(Tag(name, common, ops))
    return grouped


def docs(request: HttpRequest) -> HttpResponse:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return render(
        request,
        "api/docs.html",
        {
            "info": schema.get("info", {}),
            "tags": tags(schema),
            "components": sorted(schema.get("components", {}).get("schemas", {})),
        },
    )
