"""A small report document rendered twice: markdown and self-contained HTML."""

from __future__ import annotations

import base64
import dataclasses
import html
import os
import pathlib
from collections.abc import Sequence

from .._atomic import atomic_write_text


@dataclasses.dataclass
class Document:
    """Headings, paragraphs, tables and images, in order.

    `to_markdown` links the images by relative path; `to_html` embeds them
    (base64), so the HTML file can be mailed on its own.
    """

    blocks: list[tuple] = dataclasses.field(default_factory=list)

    def heading(self, text: str, level: int = 2) -> None:
        self.blocks.append(("heading", level, text))

    def paragraph(self, text: str) -> None:
        self.blocks.append(("paragraph", text))

    def table(self, header: Sequence[str], rows: Sequence[Sequence]) -> None:
        self.blocks.append(("table", list(header), [list(map(str, r)) for r in rows]))

    def image(self, path: str, caption: str) -> None:
        self.blocks.append(("image", path, caption))

    def to_markdown(self) -> str:
        lines: list[str] = []
        for block in self.blocks:
            kind = block[0]
            if kind == "heading":
                lines += ["#" * block[1] + " " + block[2], ""]
            elif kind == "paragraph":
                lines += [block[1], ""]
            elif kind == "table":
                header, rows = block[1], block[2]
                lines.append("| " + " | ".join(header) + " |")
                lines.append("| " + " | ".join("---" for _ in header) + " |")
                lines += ["| " + " | ".join(r) + " |" for r in rows]
                lines.append("")
            else:
                lines += [f"![{block[2]}]({block[1]})", "", f"*{block[2]}*", ""]
        return "\n".join(lines)

    def to_html(self, base: pathlib.Path, title: str) -> str:
        parts = [
            "<!DOCTYPE html><html><head><meta charset='utf-8'>",
            f"<title>{html.escape(title)}</title><style>",
            "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;"
            "line-height:1.45}table{border-collapse:collapse;margin:1em 0}"
            "td,th{border:1px solid #bbb;padding:4px 8px;text-align:right}"
            "th{background:#eee}td:first-child,th:first-child{text-align:left}"
            "img{max-width:100%}figcaption{font-style:italic;color:#444}",
            "</style></head><body>",
        ]
        for block in self.blocks:
            kind = block[0]
            if kind == "heading":
                parts.append(f"<h{block[1]}>{html.escape(block[2])}</h{block[1]}>")
            elif kind == "paragraph":
                parts.append(f"<p>{_inline(block[1])}</p>")
            elif kind == "table":
                head = "".join(f"<th>{html.escape(h)}</th>" for h in block[1])
                body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>"
                               for r in block[2])
                parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
            else:
                path = base / block[1]
                if path.exists():
                    data = base64.b64encode(path.read_bytes()).decode()
                    src = f"data:image/png;base64,{data}"
                    parts.append(f"<figure><img src='{src}' alt='{html.escape(block[2])}'>"
                                 f"<figcaption>{html.escape(block[2])}</figcaption></figure>")
        parts.append("</body></html>")
        return "\n".join(parts)

    def write(self, out_dir: str | os.PathLike, *, title: str,
              stem: str = "report") -> tuple[pathlib.Path, pathlib.Path]:
        """Write `stem.md` and `stem.html` atomically into `out_dir`."""
        out = pathlib.Path(out_dir)
        md = atomic_write_text(out / f"{stem}.md", self.to_markdown())
        page = atomic_write_text(out / f"{stem}.html", self.to_html(out, title))
        return md, page


def _inline(text: str) -> str:
    """Escape, then render `code` spans of markdown."""
    pieces = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(pieces))

