"""``get_FOO_display()`` read from the per-language tables (gonghui/choicelabels.py) says
what Django's own implementation says, for every choice field of every model."""

from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps
from django.db import models
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from gonghui.choicelabels import ChoiceLabels

DJANGO_DISPLAY = models.Model._get_FIELD_display


def _choice_fields() -> list[tuple[type[models.Model], models.Field[Any, Any]]]:
    found = []
    for model in apps.get_app_configs():
        if not model.name.startswith("gonghui."):
            continue
        for cls in model.get_models():
            found += [(cls, f) for f in cls._meta.concrete_fields if f.choices]
    return found


FIELDS = _choice_fields()


def test_every_gonghui_model_reads_labels_from_the_tables() -> None:
    models_with_choices = {cls for cls, _field in FIELDS}
    assert len(FIELDS) > 40 and len(models_with_choices) > 20
    assert all(issubclass(cls, ChoiceLabels) for cls in models_with_choices)


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_every_choice_of_every_field_has_djangos_label(language: str) -> None:
    with translation.override(language):
        for cls, field in FIELDS:
            obj = cls()
            display = getattr(obj, f"get_{field.name}_display")
            for value, _text in field.flatchoices:
                setattr(obj, field.attname, value)
                ours, django = display(), DJANGO_DISPLAY(obj, field=field)
                assert ours == django and type(ours) is type(django), (cls, field.name, value)


def test_the_label_follows_the_active_language() -> None:
    from gonghui.people.models import HouseholdMember

    member = HouseholdMember(relation="spouse")
    with translation.override("zh-hans"):
        chinese = member.get_relation_display()
    with translation.override("en"):
        english = member.get_relation_display()
    assert chinese == "配偶" and english == "Spouse"


@given(value=st.one_of(st.none(), st.integers(), st.text(max_size=12), st.lists(st.integers())))
def test_a_value_that_is_not_a_choice_comes_back_as_django_gives_it(value: object) -> None:
    from gonghui.people.models import HouseholdMember

    field = HouseholdMember._meta.get_field("relation")
    member = HouseholdMember()
    member.relation = value  # type: ignore[assignment]
    assert member.get_relation_display() == DJANGO_DISPLAY(member, field=field)


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_an_enumerations_labels_are_its_own(language: str) -> None:
    from gonghui.choicelabels import choice_label
    from gonghui.hardship.choices import FileStatus, HardshipCategory

    with translation.override(language):
        for choices in (FileStatus, HardshipCategory):
            for member in choices:
                assert choice_label(choices, member.value) == str(member.label)
        assert choice_label(FileStatus, "no-such-status") == "no-such-status"
