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


def text(value: object) -> str:
    """One line of Markdown that cannot turn into markup it was not meant to be: text from the
    request, the audit trail or a log line goes into wikis and pull requests that render HTML,
    so `<` and `&` are escaped outside code spans, and a line break cannot start a heading."""
    parts = str(value).replace("\r", " ").replace("\n", " ").split("`")
    return "`".join(
        part if index % 2 else part.replace("&", "&amp;").replace("<", "&lt;")
        for index, part in enumerate(parts)
    )


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        lines.append("| " + " | ".join(text(cell).replace("|", "\\|") for cell in row) + " |")
    return "\n".join(lines)


def _block(block: Block) -> str:
    match block:
        case Paragraph(text=words) | Callout(text=words):
            return text(words)
        case FillIn(prompt=prompt):
            return f"_{text(prompt)}_"
        case Bullets(items=items):
            return "\n".join(f"- {text(item)}" for item in items)
        case Table(header=header, rows=rows):
            return table(header, rows)
        case Subheading(text=words):
            return f"### {text(words)}"
        case Timeline():
            return table(block.header, block.rows())
    raise TypeError(f"no Markdown for {type(block).__name__}")


def to_markdown(report: Report) -> str:
    parts = [f"# {text(report.title)}", text(report.subtitle)]
    for section in report.sections:
        parts.append(f"## {text(section.title)}")
        parts += [_block(block) for block in section.blocks]
    parts.append(f"_Written by Sunset at {report.generated_at:%Y-%m-%d %H:%M:%S} UTC._")
    return "\n\n".join(parts) + "\n"
