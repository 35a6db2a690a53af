"""The form renderer: Django's, with its commonest widget templates written in Python.

A page's selects, inputs and text areas go through the template engine one include at a
time (the select, then each option, then each one's attributes): the file search's two
selects cost 0.57 ms of a 4 ms page. Here those templates are functions that give the
same HTML, character for character (tests/test_formrender.py compares them with Django's
own rendering); any other template, or a widget with its own option template, is
rendered by Django as before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.forms.renderers import DjangoTemplates
from django.http import HttpRequest
from django.utils.formats import localize
from django.utils.html import conditional_escape
from django.utils.safestring import SafeData
from django.utils.timezone import template_localtime  # type: ignore[attr-defined]

WIDGETS = "django/forms/widgets/"
OPTION = WIDGETS + "select_option.html"
# Templates that are nothing but {% include "django/forms/widgets/input.html" %}.
INPUTS = frozenset(
    WIDGETS + name
    for name in (
        "text.html",
        "number.html",
        "email.html",
        "url.html",
        "password.html",
        "hidden.html",
        "date.html",
        "datetime.html",
        "time.html",
        "search.html",
        "tel.html",
        "color.html",
    )
)


def _var(value: Any) -> str:
    """``{{ value }}`` in an autoescaping template (render_value_in_context)."""
    value = localize(template_localtime(value))
    if not issubclass(type(value), str):
        value = str(value)
    return str(conditional_escape(value))


def _s(value: Any) -> str:
    """``{{ value|stringformat:'s' }}``: a safe value stays as it is (the filter is_safe)."""
    try:
        text = "%s" % (str(value) if isinstance(value, tuple) else value)
    except (ValueError, TypeError):
        return ""
    return text if isinstance(value, SafeData) else _var(text)


def _attrs(attrs: Mapping[str, Any]) -> str:
    """django/forms/widgets/attrs.html."""
    out = []
    for name, value in attrs.items():
        if value is False:
            continue
        out.append(" " + _var(name))
        if value is not True:
            out.append(f'="{_s(value)}"')
    return "".join(out)


def _input(widget: Mapping[str, Any]) -> str:
    value = widget["value"]
    shown = f' value="{_s(value)}"' if value != None else ""  # noqa: E711 -- as the template
    return (
        f'<input type="{_var(widget["type"])}" name="{_var(widget["name"])}"'
        f"{shown}{_attrs(widget['attrs'])}>"
    )


def _textarea(widget: Mapping[str, Any]) -> str:
    value = widget["value"]
    return (
        f'<textarea name="{_var(widget["name"])}"{_attrs(widget["attrs"])}>\n'
        f"{_var(value) if value else ''}</textarea>"
    )


def _option(option: Mapping[str, Any]) -> str:
    return (
        f'<option value="{_s(option["value"])}"{_attrs(option["attrs"])}>'
        f"{_var(option['label'])}</option>\n"
    )


def _select(widget: Mapping[str, Any]) -> str | None:
    parts = [f'<select name="{_var(widget["name"])}"{_attrs(widget["attrs"])}>']
    for group_name, group_choices, _index in widget["optgroups"]:
        if group_name:
            parts.append(f'\n  <optgroup label="{_var(group_name)}">')
        for option in group_choices:
            if option.get("template_name") != OPTION:
                return None  # an option template of its own: Django renders it
            parts.append("\n  " + _option(option))
        if group_name:
            parts.append("\n  </optgroup>")
    parts.append("\n</select>")
    return "".join(parts)


QUICK: dict[str, Callable[[Mapping[str, Any]], str | None]] = {
    WIDGETS + "select.html": _select,
    WIDGETS + "textarea.html": _textarea,
    **dict.fromkeys(INPUTS, _input),
}


class QuickRenderer(DjangoTemplates):
    """``FORM_RENDERER``: the widgets of :data:`QUICK` in Python, the rest by Django."""

    def render(
        self, template_name: str, context: dict[str, Any], request: HttpRequest | None = None
    ) -> str:
        quick = QUICK.get(template_name)
        widget = context.get("widget") if quick is not None else None
        if quick is not None and widget is not None and set(context) == {"widget"}:
            html = quick(widget)
            if html is not None:
                return html.strip()
        return str(super().render(template_name, context, request))
