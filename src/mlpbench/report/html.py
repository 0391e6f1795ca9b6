"""The report as one self-contained HTML page, rendered from its Document (never from
Markdown): a table of contents, verdict badges, tables that scroll inside a phone-width
window, plots inlined as data URIs, a print style. Only figures the report drew are read.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlpbench.report.document import Block, Cell, Document, TableBlock

STYLE = """
:root { color-scheme: light; }
body { font-family: system-ui, sans-serif; margin: 0 auto; padding: 1em; max-width: 72em;
       color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2em; }
nav ol { columns: 2 18em; padding-left: 1.2em; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; margin: .6em 0; font-size: .88em; }
th, td { border: 1px solid #bbb; padding: .3em .6em; text-align: left; vertical-align: top; }
th { background: #eef; } td.missing { color: #777; font-style: italic; }
td.best { font-weight: bold; }
td span.sub { display: block; color: #555; font-size: .92em; }
img { max-width: 100%; height: auto; border: 1px solid #ddd; margin: .5em 0; }
ul.verdicts li { margin: .4em 0; } ul.verdicts ul { color: #444; font-size: .92em; }
.badge { display: inline-block; padding: .05em .55em; border-radius: .8em; font-size: .85em;
         font-weight: 600; white-space: nowrap; }
.supported { background: #d8f3dc; color: #1b5e20; }
.contradicted { background: #fde2e1; color: #9b1c1c; }
.not-supported { background: #fff3cd; color: #7a5a00; }
.not-testable { background: #e9ecef; color: #495057; }
@media (max-width: 600px) { body { padding: .5em; font-size: 15px; } nav ol { columns: 1; } }
@media print { nav { display: none; } .scroll { overflow: visible; }
               img { max-width: 16cm; page-break-inside: avoid; } }
"""
BADGES = {"supported": "supported", "contradicted": "contradicted",
          "not supported at this sample size": "not-supported",
          "not testable here": "not-testable"}  # fmt: skip


def _text(text: str) -> str:
    return html.escape(text, quote=False)


def _cell(cell: Cell, tag: str = "td") -> str:
    first, *rest = cell.lines or ("",)
    # display: block inline too, so a notebook (no report CSS) still breaks the lines
    subs = "".join(f'<span class="sub" style="display: block">{_text(line)}</span>'
                   for line in rest)
    kind = f' class="{cell.kind}"' if cell.kind else ""
    return f"<{tag}{kind}>{_text(first)}{subs}</{tag}>"


def table_html(block: TableBlock) -> str:
    """A table block as HTML, in a wrapper that scrolls rather than widen the page."""
    head = "".join(f"<th>{_text(h)}</th>" for h in block.header)
    head = f"<thead><tr>{head}</tr></thead>" if any(block.header) else ""
    body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in block.rows)
    return f'<div class="scroll"><table>{head}<tbody>{body}</tbody></table></div>'


def _verdicts(items) -> str:
    out = ['<ul class="verdicts">']
    for v in items:
        badge = (
            f'<span class="badge {BADGES.get(v.verdict, "not-testable")}">{_text(v.verdict)}</span>'
        )
        details = "".join(f"<li>{_text(d)}</li>" for d in v.details)
        out.append(f"<li>Table {v.table}, &ldquo;{_text(v.claim)}&rdquo;: {badge}"
                   f"<ul>{details}</ul></li>")  # fmt: skip
    return "".join(out) + "</ul>"


def _block(block: Block, base: Path, images: set[str]) -> str:
    from mlpbench.report.document import Figure, Paragraph, TableBlock

    if isinstance(block, Paragraph):
        return f"<p>{_text(block.text)}</p>"
    if isinstance(block, TableBlock):
        return table_html(block)
    if isinstance(block, Figure):
        if block.path not in images:  # only what the report drew, never another file
            return f"<p>{_text(block.alt)}</p>"
        png, svg = base / block.path, (base / block.path).with_suffix(".svg")
        smaller = svg.exists() and svg.stat().st_size < png.stat().st_size
        source, kind = (svg, "svg+xml") if smaller else (png, "png")  # SVG when it is smaller
        data = base64.b64encode(source.read_bytes()).decode("ascii")
        return f'<img alt="{html.escape(block.alt)}" src="data:image/{kind};base64,{data}">'
    return _verdicts(block)


def to_html(doc: Document, base: Path, images: set[str]) -> str:
    """The report as one HTML document; figures are read relative to base, and only those
    whose paths are in images (the plots this report drew)."""
    toc = "".join(f'<li><a href="#{s.anchor}">{_text(s.title)}</a></li>'
                  for s in doc.sections if s.level <= 3)  # fmt: skip
    body = [f"<h1>{_text(doc.title)}</h1>", f"<p>{_text(doc.intro)}</p>",
            f'<nav><strong>Contents</strong><ol>{toc}</ol></nav>']  # fmt: skip
    for section in doc.sections:
        level = section.level
        body.append(f'<h{level} id="{section.anchor}">{_text(section.title)}</h{level}>')
        body += [_block(b, base, images) for b in section.blocks]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_text(doc.title)}</title><style>{STYLE}</style></head>\n"
        "<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
