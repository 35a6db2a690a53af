"""Publishing a frozen ranking: a workbook and a printable PDF report in Chinese (issue 5,
point 4). Both read the snapshot alone (:func:`competition.ranking` of a frozen
competition), so what is exported is exactly what was published; whoever the ranking is
published to may export it (:func:`competition.may_see_ranking`), every export is logged as a
bulk export with :func:`gonghui.audit.models.log_export`, and both download as attachments
named after the competition (:class:`Document`).

The PDF is drawn with ReportLab: text in the Adobe CID font ``STSong-Light`` (a font every
PDF reader carries for Simplified Chinese, so nothing is embedded and no font file ships
with Gonghui), the bar chart with ReportLab's own graphics.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from django.utils import timezone, translation
from django.utils.translation import gettext as _

from gonghui.audit.models import log_export
from gonghui.errors import Conflict

from . import competition as comp
from . import indicators as lib
from .models import Competition, CompetitionStatus

CJK_FONT = "STSong-Light"
REPORT_LANGUAGE = "zh-hans"
CONTENT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}
# Path separators, characters Windows refuses in file names, and control characters.
UNSAFE_IN_NAMES = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]+')


def frozen_ranking(user: Any, competition: Competition) -> comp.Ranking:
    """The published ranking, for those it is published to (:func:`comp.may_see_ranking`);
    only a frozen one is exported."""
    comp.require_ranking_reader(user, competition)
    if competition.status != CompetitionStatus.FROZEN:
        raise Conflict(_("Freeze the ranking before publishing it."), field="status")
    return comp.ranking(competition)


def indicator_names(result: comp.Ranking) -> dict[str, str]:
    """Indicator names in the active language (the snapshot keeps the language of the day
    it was frozen; the library's own names follow the reader)."""
    names = {}
    for spec in result.inputs["indicators"]:
        found = lib.LIBRARY.get(spec["code"])
        names[spec["code"]] = str(found.name) if found is not None else spec["name"]
    return names


def movement_text(movement: int | None) -> str:
    if movement is None:
        return _("new")
    if movement > 0:
        return f"↑{movement}"
    if movement < 0:
        return f"↓{-movement}"
    return "–"


def rows_count(result: comp.Ranking) -> int:
    return sum(len(t.rows) for t in result.tiers)


@dataclass(frozen=True)
class Document:
    """An export, ready to download: its name (the competition's own, in Chinese), an ASCII
    name for clients that cannot read that one, and the bytes."""

    name: str
    ascii_name: str
    suffix: str
    data: bytes

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.suffix]

    @property
    def disposition(self) -> str:
        """A download, never shown in the page (RFC 6266): ``filename`` in ASCII for old
        clients, ``filename*`` with the UTF-8 name for every current browser."""
        encoded = quote(self.name, safe="")
        return f"attachment; filename=\"{self.ascii_name}\"; filename*=UTF-8''{encoded}"


def filenames(competition: Competition, suffix: str) -> tuple[str, str]:
    """``<name>_<start>-<end>.<suffix>`` (characters no file system takes become "_"), and
    ``ranking-<id>-<start>-<end>.<suffix>`` in ASCII."""
    span = f"{competition.period_start:%Y%m%d}-{competition.period_end:%Y%m%d}"
    name = UNSAFE_IN_NAMES.sub("_", competition.name).strip(" ._")[:80] or "ranking"
    return f"{name}_{span}.{suffix}", f"ranking-{competition.pk}-{span}.{suffix}"


def _document(competition: Competition, suffix: str, data: bytes) -> Document:
    name, ascii_name = filenames(competition, suffix)
    return Document(name, ascii_name, suffix, data)


def _log(
    user: Any, competition: Competition, result: comp.Ranking, doc: Document, source: str
) -> None:
    """Every export is a bulk export of the ranking's rows, logged as such."""
    log_export(
        user,
        "supervision.snapshot",
        rows_count(result),
        {"competition": competition.pk, "format": doc.suffix, "file": doc.name},
        source,
    )


# --- XLSX ----------------------------------------------------------------------------------


def ranking_xlsx(user: Any, competition: Competition, source: str) -> Document:
    """The frozen ranking: one sheet per tier with every indicator's value, numerator,
    denominator and points, and a sheet of the judges' scores with their comments."""
    from openpyxl import Workbook

    result = frozen_ranking(user, competition)
    names = indicator_names(result)
    specs = result.inputs["indicators"]
    book = Workbook()
    first = book.active
    assert first is not None
    book.remove(first)
    for index, tier in enumerate(result.tiers):
        sheet = book.create_sheet(f"{index + 1} {tier.name}"[:31])
        sheet.append([competition.name, *result.inputs["period"]])
        header = [_("Rank"), _("Organisation"), _("Total points"), _("Movement")]
        for spec in specs:
            name = names[spec["code"]]
            header += [
                f"{name}: {_('value')}",
                f"{name}: {_('numerator')}",
                f"{name}: {_('denominator')}",
                f"{name}: {_('points')} ({spec['weight']})",
            ]
        header += [_("Innovation (mean score)"), _("Innovation points")]
        sheet.append(header)
        for row in tier.rows:
            cells: list[Any] = [row.rank, row.name, row.total, movement_text(row.movement)]
            for part in row.parts:
                cells += [part.value, part.numerator, part.denominator, part.points]
            cells += [row.innovation, row.innovation_points]
            sheet.append(cells)
    judges = book.create_sheet(_("Judges' scores")[:31])
    judges.append([_("Organisation"), _("Judge"), _("Score"), _("Comment")])
    competitor_names = {
        o["id"]: o["name"] for t in result.inputs["tiers"] for o in t["organisations"]
    }
    for entry in result.inputs["judge_scores"]:
        judges.append(
            [
                competitor_names.get(entry["organisation"], entry["organisation"]),
                entry["judge_name"],
                Decimal(entry["score"]),
                entry["comment"],
            ]
        )
    out = io.BytesIO()
    book.save(out)
    doc = _document(competition, "xlsx", out.getvalue())
    _log(user, competition, result, doc, source)
    return doc


# --- PDF -----------------------------------------------------------------------------------


def _register_font() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))


def bar_chart(tier: comp.TierRanking, width: float, height: float) -> Any:
    """Total points by organisation, drawn with ReportLab's graphics (a Drawing flowable)."""
    from reportlab.graphics.charts.barcharts import HorizontalBarChart
    from reportlab.graphics.shapes import Drawing, String
    from reportlab.lib import colors

    rows = list(reversed(tier.rows))  # the bar chart draws bottom-up: the first on top
    drawing = Drawing(width, height)
    chart = HorizontalBarChart()
    chart.x, chart.y = 110, 20
    chart.width, chart.height = width - 140, height - 40
    chart.data = [[float(row.total) for row in rows] or [0.0]]
    chart.categoryAxis.categoryNames = [row.name for row in rows] or [""]
    chart.categoryAxis.labels.fontName = CJK_FONT
    chart.categoryAxis.labels.fontSize = 8
    chart.valueAxis.labels.fontName = CJK_FONT
    chart.valueAxis.labels.fontSize = 8
    chart.valueAxis.valueMin = 0
    chart.bars[0].fillColor = colors.HexColor("#b3261e")
    chart.barLabelFormat = "%.2f"
    chart.barLabels.fontName = CJK_FONT
    chart.barLabels.fontSize = 7
    chart.barLabels.boxAnchor = "w"
    chart.barLabels.dx = 3
    drawing.add(chart)
    drawing.add(String(0, height - 12, tier.name, fontName=CJK_FONT, fontSize=10))
    return drawing


def ranking_pdf(user: Any, competition: Competition, source: str) -> Document:
    """A printable report of the frozen ranking, in Chinese: per tier the ranking table
    (rank, movement, points per indicator, innovation, total) and a bar chart of totals."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    result = frozen_ranking(user, competition)
    _register_font()
    title_style = ParagraphStyle("title", fontName=CJK_FONT, fontSize=16, leading=22)
    text_style = ParagraphStyle("text", fontName=CJK_FONT, fontSize=9, leading=13)
    cell_style = ParagraphStyle("cell", fontName=CJK_FONT, fontSize=7.5, leading=9.5)
    page = landscape(A4)
    out = io.BytesIO()
    with translation.override(REPORT_LANGUAGE):
        names = indicator_names(result)
        snapshot = competition.snapshot
        frozen_at = timezone.localtime(snapshot.frozen_at).strftime("%Y-%m-%d %H:%M")
        doc = SimpleDocTemplate(
            out,
            pagesize=page,
            leftMargin=12 * mm,
            rightMargin=12 * mm,
            topMargin=12 * mm,
            bottomMargin=12 * mm,
            title=competition.name,
            author=competition.organiser.name,
        )
        start, end = result.inputs["period"]
        story: list[Any] = [
            Paragraph(competition.name, title_style),
            Paragraph(
                _("%(organiser)s · period %(start)s to %(end)s · frozen %(at)s")
                % {
                    "organiser": competition.organiser.name,
                    "start": start,
                    "end": end,
                    "at": frozen_at,
                },
                text_style,
            ),
            Spacer(1, 4 * mm),
        ]
        weights = ", ".join(
            f"{names[s['code']]} {s['weight']}" for s in result.inputs["indicators"]
        )
        innovation = result.inputs["innovation_weight"]
        story.append(
            Paragraph(
                _("Points: %(weights)s; innovation %(innovation)s.")
                % {"weights": weights or "–", "innovation": innovation},
                text_style,
            )
        )
        story.append(Spacer(1, 4 * mm))
        for tier in result.tiers:
            story.append(Paragraph(tier.name, title_style))
            header = [_("Rank"), _("Movement"), _("Organisation")]
            header += [names[s["code"]] for s in result.inputs["indicators"]]
            header += [_("Innovation"), _("Total points")]
            data: list[list[Any]] = [[Paragraph(h, cell_style) for h in header]]
            for row in tier.rows:
                data.append(
                    [
                        str(row.rank),
                        movement_text(row.movement),
                        Paragraph(row.name, cell_style),
                        *[str(p.points) for p in row.parts],
                        str(row.innovation_points),
                        str(row.total),
                    ]
                )
            table = Table(data, repeatRows=1)
            table.setStyle(
                TableStyle(
                    [
                        ("FONTNAME", (0, 0), (-1, -1), CJK_FONT),
                        ("FONTSIZE", (0, 0), (-1, -1), 7.5),
                        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f1e9e8")),
                        ("ALIGN", (3, 1), (-1, -1), "RIGHT"),
                        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                    ]
                )
            )
            story += [table, Spacer(1, 4 * mm)]
            chart_height = min(460.0, max(90.0, 18.0 * len(tier.rows) + 50))
            story += [bar_chart(tier, page[0] - 24 * mm, chart_height), Spacer(1, 6 * mm)]
        doc.build(story)
    made = _document(competition, "pdf", out.getvalue())
    _log(user, competition, result, made, source)
    return made
