"""The post-mortem as a document: sections of paragraphs, lists, tables and a timeline.

The content is decided once (report/content.py) and rendered twice, as Markdown and as HTML, so
that report.md and report.html can never tell different stories. Text carries two inline marks,
`**strong**` and `` `code` ``, which both renderers understand.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Tone = Literal["good", "bad", "warn", "neutral"]
BarKind = Literal["succeeded", "failed", "running", "waiting"]


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Callout:
    """A verdict people must not miss: the outcome, proven down or not, an incident."""

    text: str
    tone: Tone


@dataclass(frozen=True)
class FillIn:
    """Room for the team to write in (the lessons learned), on screen and on paper."""

    prompt: str


@dataclass(frozen=True)
class Bullets:
    items: Sequence[str]


@dataclass(frozen=True)
class Table:
    header: Sequence[str]
    rows: Sequence[Sequence[object]]


@dataclass(frozen=True)
class Subheading:
    text: str


@dataclass(frozen=True)
class Bar:
    """One phase, or one wait, on the timeline."""

    label: str
    start: datetime
    end: datetime
    kind: BarKind

    @property
    def seconds(self) -> float:
        return max(0.0, (self.end - self.start).total_seconds())


@dataclass(frozen=True)
class Timeline:
    bars: Sequence[Bar]

    header = ("Phase", "Started", "Ended", "Duration", "Status")

    def rows(self) -> list[list[str]]:
        """The exact times: the whole timeline in Markdown, the key under the chart in HTML."""
        return [
            [
                bar.label,
                f"{bar.start:%Y-%m-%d %H:%M:%S} UTC",
                f"{bar.end:%Y-%m-%d %H:%M:%S} UTC",
                duration(bar.seconds),
                bar.kind,
            ]
            for bar in self.bars
        ]


Block = Paragraph | Callout | FillIn | Bullets | Table | Subheading | Timeline


@dataclass
class Section:
    anchor: str
    title: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Report:
    title: str
    subtitle: str
    outcome: str
    tone: Tone
    sections: list[Section]
    generated_at: datetime


def duration(seconds: float) -> str:
    """'0.4 s', '12.0 s', '3 min 05 s', '2 h 10 min', '3 d 4 h'."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = int(round(seconds))
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min {secs:02d} s"


@dataclass(frozen=True)
class Scale:
    """Where a moment sits on the timeline, from 0 to 1.

    A day of notice next to seconds of work would leave the work invisible, so stretches of time
    in which nothing but waiting happens are shortened on the drawing (and marked as such): each
    counts at most as long as a tenth of the time spent working. Work is always drawn to scale.
    """

    points: tuple[tuple[datetime, float], ...]
    shortened: tuple[tuple[datetime, datetime], ...]

    @classmethod
    def of(cls, bars: Sequence[Bar]) -> Scale:
        moments = sorted({moment for bar in bars for moment in (bar.start, bar.end)})
        if len(moments) < 2:
            return cls(points=tuple((m, 0.0) for m in moments), shortened=())
        working = [bar for bar in bars if bar.kind != "waiting"]
        lengths: list[float] = []
        shortened: list[tuple[datetime, datetime]] = []
        work_seconds = sum(bar.seconds for bar in working) or 1.0
        cap = max(work_seconds / 10, 1.0)
        for start, end in zip(moments, moments[1:], strict=False):
            seconds = (end - start).total_seconds()
            busy = any(bar.start <= start and end <= bar.end for bar in working)
            if not busy and seconds > cap:
                shortened.append((start, end))
                seconds = cap
            lengths.append(seconds)
        total = sum(lengths) or 1.0
        points = [(moments[0], 0.0)]
        for moment, length in zip(moments[1:], lengths, strict=True):
            points.append((moment, points[-1][1] + length / total))
        return cls(points=tuple(points), shortened=tuple(shortened))

    def at(self, moment: datetime) -> float:
        for (t0, x0), (t1, x1) in zip(self.points, self.points[1:], strict=False):
            if t0 <= moment <= t1:
                span = (t1 - t0).total_seconds()
                return x0 if span == 0 else x0 + (x1 - x0) * (moment - t0).total_seconds() / span
        return 0.0 if not self.points or moment < self.points[0][0] else 1.0
