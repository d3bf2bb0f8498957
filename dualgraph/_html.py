"""HTML tables for notebooks (`_repr_html_` of memory plans and profiler tables): no imports
from the rest of dualgraph, so any layer may use it."""

from __future__ import annotations

from html import escape
from typing import Any, Iterable, Sequence


def html_table(caption: str, header: Sequence, rows: Iterable[Sequence],
               notes: Iterable[Any] = ()) -> str:
    """A small HTML table, every cell escaped; `notes` follow it as paragraphs."""
    def cells(tag: str, row: Sequence) -> str:
        return "".join(f"<{tag}>{escape(str(c))}</{tag}>" for c in row)
    body = "".join(f"<tr>{cells('td', r)}</tr>" for r in rows)
    after = "".join(f"<p>{escape(str(n))}</p>" for n in notes)
    return (f"<div><table><caption>{escape(caption)}</caption><thead><tr>{cells('th', header)}"
            f"</tr></thead><tbody>{body}</tbody></table>{after}</div>")
