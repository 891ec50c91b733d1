"""report.md: the post-mortem as Markdown, for the artifacts bucket, a wiki or a pull request."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sunset.report.document import (
    Block,
    Bullets,
    Callout,
    FillIn,
    Paragraph,
    Report,
    Subheading,
    Table,
    Timeline,
)


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        lines.append(
            "| "
            + " | ".join(str(cell).replace("|", "\\|").replace("\n", " ") for cell in row)
            + " |"
        )
    return "\n".join(lines)


def _block(block: Block) -> str:
    match block:
        case Paragraph(text=text) | Callout(text=text):
            return text
        case FillIn(prompt=prompt):
            return f"_{prompt}_"
        case Bullets(items=items):
            return "\n".join(f"- {item}" for item in items)
        case Table(header=header, rows=rows):
            return table(header, rows)
        case Subheading(text=text):
            return f"### {text}"
        case Timeline():
            return table(block.header, block.rows())
    raise TypeError(f"no Markdown for {type(block).__name__}")


def to_markdown(report: Report) -> str:
    parts = [f"# {report.title}", report.subtitle]
    for section in report.sections:
        parts.append(f"## {section.title}")
        parts += [_block(block) for block in section.blocks]
    parts.append(f"_Written by Sunset at {report.generated_at:%Y-%m-%d %H:%M:%S} UTC._")
    return "\n\n".join(parts) + "\n"
