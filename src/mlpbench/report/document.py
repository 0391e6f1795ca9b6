"""The report as data: sections of paragraphs, tables of typed cells, verdicts and figures.

report.py builds one Document; `to_markdown` here and html_report.to_html render it, so
the HTML never comes from parsing Markdown. Text in a Document is plain: each renderer
escapes it for its format, so a study's titles and labels are always shown as typed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# every Markdown special character but an underscore inside a word (train_accuracy is no
# emphasis), and those that start a block at the start of a line
MARKUP = re.compile(r"[\\`*\[\]!|<>]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
LEADING = "#+->"


def md_inline(text: str) -> str:
    """Plain text as Markdown inside a line (a table cell), shown as typed."""
    return MARKUP.sub(r"\\\g<0>", " ".join(text.split()))


def md_escape(text: str) -> str:
    """Plain text as Markdown that shows it as typed, on a line of its own."""
    out = md_inline(text)
    if out[:1] in LEADING:
        return "\\" + out
    ordered = re.match(r"^\d+(?=[.)](\s|$))", out)  # "1. " would start a numbered list
    return out if not ordered else out[: ordered.end()] + "\\" + out[ordered.end() :]


@dataclass(frozen=True)
class Cell:
    """A table cell: its lines (the first the figure, the rest its interval or a note);
    kind "missing" marks a column without runs, "best" a figure a paired test singles out."""

    lines: tuple[str, ...]
    kind: str = ""

    @staticmethod
    def of(*lines: str, kind: str = "") -> Cell:
        """A cell from its non-empty lines."""
        return Cell(tuple(line for line in lines if line), kind)


@dataclass(frozen=True)
class TableBlock:
    """A header row and body rows of cells."""

    header: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]


@dataclass(frozen=True)
class Paragraph:
    """Plain text."""

    text: str


@dataclass(frozen=True)
class Verdict:
    """One claim of a table, its verdict and the numbers behind it."""

    table: int
    claim: str
    verdict: str
    details: tuple[str, ...]


@dataclass(frozen=True)
class Figure:
    """A plot the report drew, by its path relative to the output folder."""

    path: str
    alt: str


Block = Paragraph | TableBlock | tuple[Verdict, ...] | Figure


@dataclass
class Section:
    """A heading (level 2 to 4) and what follows it."""

    title: str
    level: int
    blocks: list[Block] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        """An id for links: the title in lower case, words joined by dashes."""
        return "-".join(re.findall(r"[a-z0-9]+", self.title.lower())) or "section"


@dataclass
class Document:
    """A whole report: its title, an opening paragraph and its sections."""

    title: str
    intro: str
    sections: list[Section] = field(default_factory=list)

    def figures(self) -> set[str]:
        """Paths of every figure in the document: the only files the HTML may embed."""
        return {b.path for s in self.sections for b in s.blocks if isinstance(b, Figure)}


def _md_table(block: TableBlock) -> str:
    def cell(c: Cell) -> str:  # inside a row no text starts a block: "-0.75" stays as it is
        return "<br>".join(md_inline(line) for line in c.lines)

    header = [md_inline(h) for h in block.header]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in block.rows]
    return "\n".join(lines)


def _md_block(block: Block) -> str:
    if isinstance(block, Paragraph):
        return md_escape(block.text)
    if isinstance(block, TableBlock):
        return _md_table(block)
    if isinstance(block, Figure):
        return f"![{md_escape(block.alt)}]({block.path})"
    lines = []
    for v in block:
        lines.append(f'- Table {v.table}, "{md_escape(v.claim)}": **{v.verdict}**')
        lines += [f"  - {md_escape(d)}" for d in v.details]
    return "\n".join(lines)


def to_markdown(doc: Document) -> str:
    """The document as Markdown (report.md)."""
    parts = [f"# {md_escape(doc.title)}", "", md_escape(doc.intro), ""]
    for section in doc.sections:
        parts += [f"{'#' * section.level} {md_escape(section.title)}", ""]
        for block in section.blocks:
            parts += [_md_block(block), ""]
    return "\n".join(parts)
