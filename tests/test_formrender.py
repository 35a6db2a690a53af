"""The quick form renderer (gonghui/web/formrender.py) writes what Django's widget
templates write, character for character, for any name, value, attributes and choices."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import django
import pytest
from django import forms
from django.conf import settings
from django.forms.renderers import DjangoTemplates
from django.utils import translation
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from gonghui.web.formrender import INPUTS, QUICK, QuickRenderer
from gonghui.web.forms import FileFilterForm

DJANGO = DjangoTemplates()
QUICKLY = QuickRenderer()
TEMPLATES = Path(django.__file__).parent / "forms" / "templates"

texts = st.text(alphabet=st.sampled_from("ab王李<>&\"' \n{}%"), max_size=8)
scalars = st.one_of(texts, st.integers(-(10**6), 10**6), st.none(), st.booleans())
attr_values = st.one_of(texts, st.integers(-99, 10**5), st.booleans(), st.none())
attrs = st.dictionaries(
    st.sampled_from(["class", "id", "required", "disabled", "data-x", "placeholder"]),
    attr_values,
    max_size=4,
)
labels = st.one_of(
    texts, st.integers(0, 10**4), st.just(gettext_lazy("Status")), st.just(mark_safe("<b>x</b>"))
)
plain_choices = st.lists(st.tuples(st.one_of(texts, st.integers(0, 99)), labels), max_size=5)
grouped_choices = st.lists(
    st.one_of(
        st.tuples(st.one_of(texts, st.integers(0, 99)), labels),
        st.tuples(texts.filter(bool), plain_choices.filter(bool)),
    ),
    max_size=4,
)


def _both(widget: forms.Widget, name: str, value: Any, extra: dict[str, Any]) -> tuple[str, str]:
    return (
        widget.render(name, value, extra, renderer=QUICKLY),
        widget.render(name, value, extra, renderer=DJANGO),
    )


def test_the_input_templates_are_what_the_renderer_takes_them_for() -> None:
    include = '{% include "django/forms/widgets/input.html" %}'
    for name in INPUTS:
        assert (TEMPLATES / name).read_text().strip() == include, name
    assert settings.FORM_RENDERER == "gonghui.web.formrender.QuickRenderer"
    assert set(QUICK) >= INPUTS


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    choices=grouped_choices,
    value=st.one_of(scalars, st.lists(st.one_of(texts, st.integers(0, 99)), max_size=3)),
    extra=attrs,
    multiple=st.booleans(),
    name=texts,
    language=st.sampled_from(["zh-hans", "en"]),
)
def test_a_select_is_written_as_django_writes_it(
    choices: list[Any], value: Any, extra: dict[str, Any], multiple: bool, name: str, language: str
) -> None:
    widget = forms.SelectMultiple(choices=choices) if multiple else forms.Select(choices=choices)
    with translation.override(language):
        quick, django_html = _both(widget, name, value, extra)
    assert quick == django_html


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(
        [
            forms.TextInput,
            forms.NumberInput,
            forms.EmailInput,
            forms.HiddenInput,
            forms.DateInput,
            forms.Textarea,
        ]
    ),
    value=st.one_of(
        scalars,
        st.dates(min_value=datetime.date(1900, 1, 1)),
        st.decimals(
            allow_nan=False, allow_infinity=False, places=2, max_value=10**6, min_value=-(10**6)
        ),
        st.just(mark_safe("<i>safe</i>")),
    ),
    extra=attrs,
    name=texts,
)
def test_an_input_or_text_area_is_written_as_django_writes_it(
    kind: type[forms.Widget], value: Any, extra: dict[str, Any], name: str
) -> None:
    quick, django_html = _both(kind(), name, value, extra)
    assert quick == django_html


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_file_search_filters_render_as_before(language: str) -> None:
    form = FileFilterForm({"q": "王", "status": "filed", "category": ""})
    assert form.is_valid()
    with translation.override(language):
        for field in ("q", "status", "category"):
            bound = form[field]
            widget = bound.field.widget
            context = widget.get_context(
                bound.html_name, bound.value(), bound.build_widget_attrs({})
            )
            assert QUICKLY.render(widget.template_name, context) == DJANGO.render(
                widget.template_name, context
            )
        assert 'value="filed" selected' in str(form["status"])


def test_a_widget_with_its_own_option_template_is_left_to_django() -> None:
    class Fancy(forms.Select):
        option_template_name = "django/forms/widgets/input_option.html"

    widget = Fancy(choices=[("a", "A")])
    assert widget.render("x", "a", renderer=QUICKLY) == widget.render("x", "a", renderer=DJANGO)
    assert "<label>" in widget.render("x", "a", renderer=QUICKLY)  # its template, not ours
