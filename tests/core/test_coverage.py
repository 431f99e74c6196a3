"""The plan check: which channels would carry a planned speaker untranslated."""

from __future__ import annotations

from simultan.core.coverage import BoothPlan, PlannedSpeaker, describe, gaps

BOOTHS = (
    BoothPlan("zh", "zh", retour=False, interpreters=2),
    BoothPlan("ja", "ja", retour=True, interpreters=2),
    BoothPlan("es", "es", retour=False, interpreters=0),
)


def speaker(lang: str, line: int | None = 7) -> PlannedSpeaker:
    return PlannedSpeaker("keynote", f"A {lang} speaker", lang, line)


def test_the_floor_language_and_a_retour_booth_leave_no_gap() -> None:
    assert gaps("en", BOOTHS, [speaker("en"), speaker("ja")]) == []


def test_a_booth_that_does_not_work_into_the_floor_language_leaves_the_floor_channel() -> None:
    (gap,) = gaps("en", BOOTHS, [speaker("zh")])
    assert gap.channels == ("en",)
    assert "not retour" in gap.reason
    text = describe(gap)
    assert text.startswith("line 7: agenda item 'keynote': A zh speaker speaks zh")
    assert "channel en would carry it untranslated" in text


def test_a_language_without_a_booth_leaves_every_channel() -> None:
    (gap,) = gaps("en", BOOTHS, [speaker("pl", line=None)])
    assert gap.channels == ("en", "zh", "ja", "es")
    assert describe(gap).startswith("agenda item 'keynote'")


def test_an_empty_booth_cannot_pivot_even_when_retour() -> None:
    booths = (*BOOTHS[:2], BoothPlan("es", "es", retour=True, interpreters=0))
    (gap,) = gaps("en", booths, [speaker("es")])
    assert gap.channels == ("en", "zh", "ja")
    assert "no interpreters" in gap.reason
