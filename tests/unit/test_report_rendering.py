"""The post-mortem's drawing rules: what a reader sees in report.html and report.md."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sunset.manifest import Action, Manifest, PhaseRecord
from sunset.report import render
from sunset.report.document import Bar, Scale
from sunset.report.html import inline
from sunset.request import parse_request

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def _manifest(**request: object) -> Manifest:
    raw = {
        "service": "chat-assistant",
        "selector": {"tags": {"app": "chat-assistant"}},
        "reason": "Retired",
        **request,
    }
    return Manifest(
        run_id="r1",
        service="chat-assistant",
        request=parse_request(raw),
        started_at=T0,
        cutoff=T0 + timedelta(days=1),
        phases=[
            PhaseRecord(
                name="Announce",
                started_at=T0,
                ended_at=T0 + timedelta(seconds=2),
                status="succeeded",
            ),
            PhaseRecord(
                name="Back up",
                started_at=T0 + timedelta(days=1),
                ended_at=T0 + timedelta(days=1, seconds=30),
                status="failed",
            ),
        ],
        outcome="failed",
        ended_at=T0 + timedelta(days=1, seconds=31),
    )


def test_text_from_the_request_cannot_become_markup() -> None:
    # Given a reason that carries HTML and a heading
    manifest = _manifest(reason='<script>alert("x")</script> & <img src=x>\n\n## Fake')
    # When
    markdown, page = render(manifest, [], T0)
    # Then it is shown as text, and the page allows no script or external asset anyway
    assert "<script>alert" not in page and "<img src=x>" not in page
    assert '&lt;script&gt;alert("x")&lt;/script&gt; &amp; &lt;img src=x&gt;' in page
    assert "default-src 'none'" in page
    # and the Markdown, which wikis render as HTML, carries it as text on its one line
    assert '| Reason | &lt;script>alert("x")&lt;/script> &amp; &lt;img src=x>  ## Fake |' in (
        markdown
    )
    assert "\n## Fake" not in markdown
    # and only the two inline marks become elements
    assert inline("**a** `b` <c>") == "<strong>a</strong> <code>b</code> &lt;c&gt;"


def test_a_long_wait_is_shortened_on_the_drawing_and_work_stays_to_scale() -> None:
    # Given a day of notice between two short phases
    bars = [
        Bar("Announce", T0, T0 + timedelta(seconds=10), "succeeded"),
        Bar("Notice period", T0 + timedelta(seconds=10), T0 + timedelta(days=1), "waiting"),
        Bar("Back up", T0 + timedelta(days=1), T0 + timedelta(days=1, seconds=10), "succeeded"),
    ]
    # When
    scale = Scale.of(bars)
    # Then the wait is marked as shortened, and each phase keeps a visible share of the width
    assert scale.shortened == ((T0 + timedelta(seconds=10), T0 + timedelta(days=1)),)
    for bar in (bars[0], bars[2]):
        assert scale.at(bar.end) - scale.at(bar.start) > 0.4
    assert scale.at(T0) == 0.0 and scale.at(bars[2].end) == 1.0


def test_both_forms_tell_the_same_story() -> None:
    # Given a failed run
    manifest = _manifest()
    audit = [
        Action(at=T0, phase="Announce", action="notify ANNOUNCED", resource="topic", result="ok")
    ]
    # When
    markdown, page = render(manifest, audit, T0)
    # Then every section is in both, in the same order, with the notice period drawn
    titles = [line[3:] for line in markdown.splitlines() if line.startswith("## ")]
    assert titles[:3] == ["Summary", "Timeline", "Backups"]
    positions = [page.index(f"<h2>{title}</h2>") for title in titles]
    assert positions == sorted(positions)
    assert "| Notice period | 2026-11-26 09:00:02 UTC | 2026-11-27 09:00:00 UTC |" in markdown
    assert "The shutdown of **chat-assistant** **FAILED**" in markdown
    assert '<span class="badge bad" id="outcome">FAILED</span>' in page
