"""report.html: the post-mortem as one self-contained page, for a browser and for print.

Self-contained means no request leaves the page: the style is inline, the timeline is drawn with
HTML and CSS, and a Content-Security-Policy of `default-src 'none'` makes the browser refuse any
external asset that a later change might add by mistake.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from html import escape

from sunset.report.document import (
    Block,
    Bullets,
    Callout,
    FillIn,
    Paragraph,
    Report,
    Scale,
    Section,
    Subheading,
    Table,
    Timeline,
    duration,
)

_STRONG = re.compile(r"\*\*(.+?)\*\*")
_CODE = re.compile(r"`([^`]+)`")

_CSS = """
:root { --ink: #1d2329; --muted: #5b6570; --line: #d5dbe1; --paper: #ffffff;
  --good: #1e7b34; --bad: #b3261e; --warn: #9a6700; --wait: #8a96a3; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: var(--paper);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; }
header, main, footer, nav { max-width: 1100px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 28px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 36px 0 10px; padding-bottom: 4px;
  border-bottom: 2px solid var(--line); }
h3 { font-size: 16px; margin: 22px 0 8px; }
.subtitle { color: var(--muted); margin: 0 0 12px; }
.badge { display: inline-block; padding: 3px 12px; border-radius: 12px; font-weight: 700;
  color: #fff; letter-spacing: .04em; }
.badge.good, .bar.succeeded { background: var(--good); }
.badge.bad, .bar.failed { background: var(--bad); }
.badge.warn, .bar.running { background: var(--warn); }
.badge.neutral { background: var(--muted); }
nav ol { display: flex; flex-wrap: wrap; gap: 4px 18px; list-style: none; padding: 10px 0;
  margin: 12px 0 0; border-top: 1px solid var(--line); border-bottom: 1px solid var(--line); }
nav a { color: var(--ink); text-decoration: none; font-size: 14px; }
nav a:hover { text-decoration: underline; }
.callout { border-left: 5px solid var(--muted); background: #f4f6f8; padding: 10px 14px;
  margin: 12px 0; }
.callout.good { border-color: var(--good); background: #edf7ef; }
.callout.bad { border-color: var(--bad); background: #fcefee; }
.callout.warn { border-color: var(--warn); background: #fdf6e3; }
table { border-collapse: collapse; width: 100%; margin: 10px 0 16px; font-size: 13px; }
th, td { border: 1px solid var(--line); padding: 5px 8px; text-align: left; vertical-align: top;
  overflow-wrap: anywhere; }
th { background: #eef1f4; white-space: nowrap; }  /* a column is never narrower than its name */
.facts td:first-child { width: 200px; font-weight: 600; background: #f4f6f8; }
tbody tr:nth-child(even) { background: #f8f9fb; }
code { font: 12.5px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  background: #eef1f4; padding: 1px 4px; border-radius: 3px; }
.timeline { margin: 14px 0 6px; }
.row { display: grid; grid-template-columns: 190px 1fr 110px; align-items: center; gap: 10px;
  min-height: 26px; }
.row .label { font-size: 13px; text-align: right; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; }
.row .took { font-size: 13px; color: var(--muted); font-variant-numeric: tabular-nums; }
.track { position: relative; height: 18px; background: #f1f3f5; border-radius: 3px; }
.bar { position: absolute; top: 0; bottom: 0; min-width: 3px; border-radius: 3px; }
.bar.waiting { background: repeating-linear-gradient(45deg, var(--wait) 0 4px, #c9d0d7 4px 8px); }
.gap { position: absolute; top: -3px; bottom: -3px; border-left: 1px dashed var(--muted);
  border-right: 1px dashed var(--muted); }
.axis { display: flex; justify-content: space-between; font-size: 12px; color: var(--muted); }
.legend { font-size: 12px; color: var(--muted); margin: 4px 0 12px; }
.legend span { display: inline-block; width: 12px; height: 10px; margin: 0 4px 0 12px;
  vertical-align: middle; border-radius: 2px; }
.fill { color: var(--muted); font-style: italic; border: 1px dashed var(--line);
  min-height: 70px; padding: 8px 12px; }
footer { color: var(--muted); font-size: 12px; padding: 30px 24px 40px; }
@media print {
  @page { margin: 14mm; }
  body { font-size: 10.5pt; }
  header, main, footer { max-width: none; padding: 0; }
  nav { display: none; }
  h2 { break-after: avoid; }
  h3 { break-after: avoid; }
  tr, .row, .callout { break-inside: avoid; }
  table { font-size: 8.5pt; }
  .badge, .bar, .track, .callout, th { print-color-adjust: exact;
    -webkit-print-color-adjust: exact; }
  .row { grid-template-columns: 150px 1fr 90px; }
}
"""


def inline(text: str) -> str:
    """Escape text for HTML, then turn the two inline marks into elements."""
    escaped = escape(text, quote=False)
    return _CODE.sub(r"<code>\1</code>", _STRONG.sub(r"<strong>\1</strong>", escaped))


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    body = "".join(
        "<tr>" + "".join(f"<td>{inline(str(cell))}</td>" for cell in row) + "</tr>" for row in rows
    )
    if not any(header):  # a table of facts: the first column names them
        return f'<table class="facts"><tbody>{body}</tbody></table>'
    head = "".join(f"<th>{inline(h)}</th>" for h in header)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _timeline(timeline: Timeline) -> str:
    bars = list(timeline.bars)
    if not bars:
        return "<p>No phase ran.</p>"
    scale = Scale.of(bars)
    gaps = "".join(
        f'<div class="gap" style="left:{scale.at(start) * 100:.2f}%;'
        f'width:{(scale.at(end) - scale.at(start)) * 100:.2f}%" '
        f'title="shortened on the drawing: {duration((end - start).total_seconds())}"></div>'
        for start, end in scale.shortened
    )
    rows = []
    for bar in bars:
        left = scale.at(bar.start) * 100
        width = (scale.at(bar.end) - scale.at(bar.start)) * 100
        title = escape(
            f"{bar.label}: {bar.start:%H:%M:%S} to {bar.end:%H:%M:%S} UTC, "
            f"{duration(bar.seconds)}, {bar.kind}"
        )
        rows.append(
            f'<div class="row"><div class="label" title="{escape(bar.label)}">'
            f"{escape(bar.label)}</div>"
            f'<div class="track">{gaps}<div class="bar {bar.kind}" '
            f'style="left:{left:.2f}%;width:{width:.2f}%" title="{title}"></div></div>'
            f'<div class="took">{duration(bar.seconds)}</div></div>'
        )
    start, end = bars[0].start, max(bar.end for bar in bars)
    axis = (
        '<div class="row"><div></div><div class="axis">'
        f"<span>{start:%Y-%m-%d %H:%M:%S} UTC</span><span>{end:%Y-%m-%d %H:%M:%S} UTC</span>"
        f'</div><div class="took">{duration((end - start).total_seconds())} in all</div></div>'
    )
    legend = (
        '<p class="legend">'
        '<span class="bar succeeded" style="position:static"></span>succeeded'
        '<span class="bar failed" style="position:static"></span>failed'
        '<span class="bar running" style="position:static"></span>did not finish'
        '<span class="bar waiting" style="position:static"></span>waiting'
        + (
            "; between dashed lines, a wait shortened on the drawing (its real length is in "
            "the table below)"
            if scale.shortened
            else ""
        )
        + "</p>"
    )
    key = _table(timeline.header, timeline.rows())
    return f'<div class="timeline">{"".join(rows)}{axis}</div>{legend}{key}'


def _block(block: Block) -> str:
    match block:
        case Paragraph(text=text):
            return f"<p>{inline(text)}</p>"
        case Callout(text=text, tone=tone):
            return f'<div class="callout {tone}">{inline(text)}</div>'
        case FillIn(prompt=prompt):
            return f'<div class="fill">{inline(prompt)}</div>'
        case Bullets(items=items):
            return "<ul>" + "".join(f"<li>{inline(item)}</li>" for item in items) + "</ul>"
        case Table(header=header, rows=rows):
            return _table(header, rows)
        case Subheading(text=text):
            return f"<h3>{inline(text)}</h3>"
        case Timeline():
            return _timeline(block)
    raise TypeError(f"no HTML for {type(block).__name__}")


def _section(section: Section) -> str:
    blocks = "".join(_block(block) for block in section.blocks)
    return f'<section id="{section.anchor}"><h2>{inline(section.title)}</h2>{blocks}</section>'


def to_html(report: Report) -> str:
    toc = "".join(f'<li><a href="#{s.anchor}">{escape(s.title)}</a></li>' for s in report.sections)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        f"<title>{escape(report.title)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{inline(report.title)}</h1>"
        f'<p class="subtitle">{inline(report.subtitle)}</p>'
        f'<span class="badge {report.tone}" id="outcome">{escape(report.outcome)}</span></header>'
        f'<nav aria-label="Sections"><ol>{toc}</ol></nav>'
        f"<main>{''.join(_section(s) for s in report.sections)}</main>"
        f"<footer>Written by Sunset at {report.generated_at:%Y-%m-%d %H:%M:%S} UTC from the "
        "run's manifest and audit trail.</footer></body></html>\n"
    )
