"""One self-contained HTML page from the report's Markdown: plots inlined, no network.

Only the Markdown the report writes is understood: headings, paragraphs,
pipe tables (cells may hold <br>), bullet lists (two levels), **bold**,
backslash escapes (user text arrives escaped by `md_escape`), and image lines
`![alt](path)`, whose PNG is embedded as a data URI only when the report drew
it (the `images` it names); any other file is never read.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #bbb; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #eef; }
img { max-width: 100%; border: 1px solid #ddd; margin: 0.5em 0; }
li li { font-size: 0.9em; color: #444; }
"""

IMAGE = re.compile(r"^!\[(?P<alt>[^\]]*)\]\((?P<path>[^)]+)\)$")
SPECIAL = "\\`*_[]!|<>"  # markup anywhere in a line
LEADING = "#+->"  # markup at the start of a line
ESCAPED = re.compile(r"\\([" + re.escape(SPECIAL + LEADING + ".)") + "])")
# every special character but an underscore inside a word (train_accuracy is not emphasis)
MARKUP = re.compile(r"[\\`*\[\]!|<>]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
CELL_BORDER = re.compile(r"(?<!\\)\|")


def md_escape(text: str) -> str:
    """User text (title, label, note, claim) as Markdown that shows it literally, on one line."""
    out = MARKUP.sub(r"\\\g<0>", " ".join(text.split()))
    if out[:1] in LEADING:
        return "\\" + out
    ordered = re.match(r"^\d+(?=[.)])", out)  # "1. " would start a numbered list
    return out if not ordered else out[: ordered.end()] + "\\" + out[ordered.end() :]


def _inline(text: str) -> str:
    """Escape, then allow the report's inline forms: **bold**, <br> and backslash escapes."""
    kept: list[str] = []

    def keep(match: re.Match) -> str:
        kept.append(html.escape(match.group(1), quote=False))
        return f"\0{len(kept) - 1}\0"

    out = ESCAPED.sub(keep, text)
    out = html.escape(out, quote=False).replace("&lt;br&gt;", "<br>")
    out = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", out)
    return re.sub("\0(\\d+)\0", lambda m: kept[int(m.group(1))], out)


def _table(lines: list[str]) -> str:
    rows = [[c.strip() for c in CELL_BORDER.split(line.strip().strip("|"))] for line in lines]
    header, body = rows[0], [r for r in rows[1:] if not all(set(c) <= {"-"} for c in r)]
    head = "".join(f"<th>{_inline(c)}</th>" for c in header)
    head = f"<thead><tr>{head}</tr></thead>" if any(header) else ""  # no empty header row
    cells = "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in r) + "</tr>" for r in body)
    return f"<table>{head}<tbody>{cells}</tbody></table>"


def _image(alt: str, path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _list(lines: list[str]) -> str:
    out, nested = ["<ul>"], False
    for line in lines:
        inner = line.startswith("  - ")
        if inner and not nested:
            out.append("<ul>")
        elif not inner and nested:
            out.append("</ul>")
        nested = inner
        out.append(f"<li>{_inline(line.strip()[2:])}</li>")
    out.append("</ul>" * (2 if nested else 1))
    return "".join(out)


def markdown_to_html(text: str, base: Path, title: str, images: set[str]) -> str:
    """The report as one HTML document; an image line is embedded only if its path is one
    of images (read relative to base), the plots the report itself drew."""
    blocks: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        kind = "table" if line.startswith("|") else "list" if line.startswith("- ") else None
        if kind:
            j = i
            while j < len(lines) and (
                lines[j].startswith("|") if kind == "table" else lines[j].startswith(("- ", "  - "))
            ):
                j += 1
            blocks.append(_table(lines[i:j]) if kind == "table" else _list(lines[i:j]))
            i = j
            continue
        heading = re.match(r"^(#{1,6}) (.*)$", line)
        image = IMAGE.match(line.strip())
        if heading:
            level = len(heading.group(1))
            blocks.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif image and image["path"] in images:
            blocks.append(_image(image["alt"], base / image["path"]))
        else:
            blocks.append(f"<p>{_inline(line)}</p>")
        i += 1
    body = "\n".join(blocks)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>\n"
        f"<body>\n{body}\n</body></html>\n"
    )
