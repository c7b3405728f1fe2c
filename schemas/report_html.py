"""One self-contained HTML page for pileflow's reports (dataset report, training report).

Why in schemas/: both halves write a report (beam_pipelines/report.py, trainer/report.py) and
they should look alike, but the trainer may not import beam_pipelines; schemas is the one
package both import. It needs only the standard library: plots arrive as PNG bytes (drawn by
the caller with matplotlib) and are embedded as ``data:`` URIs, so the file can be mailed,
attached to a bug or opened from a bucket with nothing beside it.

Layout: a title, a warnings box at the very top (red, one line per warning; a green "no
warnings" line otherwise, so an empty box is never ambiguous), then sections in the order
added. Every embedded plot is an ``<img class="plot" data-plot="<name>">``; a short inline
script counts the images that decoded and writes ``data-plots-loaded="<ok>/<total>"`` on
``<body>``, and each plot's page box (name, x, y, width, height in CSS pixels) as JSON in
``data-plot-boxes``; a headless browser's ``--dump-dom`` shows both, so a test can crop each
plot out of a screenshot taken at the same window size.
"""
from __future__ import annotations

import base64
import html
from typing import Iterable, List, Optional, Sequence

from schemas import _files

_CSS = """
body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 16px 24px; color: #222;
       background: #fff; max-width: 1400px; }
h1 { font-size: 22px; margin: 0 0 4px 0; }
h2 { font-size: 17px; margin: 26px 0 8px 0; border-bottom: 1px solid #ccc; }
.subtitle { color: #555; font-size: 13px; margin-bottom: 12px; }
.warnings { background: #fde2e1; border: 2px solid #c62828; padding: 8px 12px;
            margin: 10px 0; }
.warnings li { color: #8e0000; font-weight: bold; margin: 2px 0; }
.ok { background: #e3f4e1; border: 2px solid #2e7d32; padding: 8px 12px; margin: 10px 0;
      color: #1b5e20; font-weight: bold; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0; }
th, td { border: 1px solid #bbb; padding: 3px 8px; text-align: left; }
th { background: #f0f0f0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { display: inline-block; margin: 6px 12px 12px 0; vertical-align: top; }
figcaption { font-size: 12px; color: #444; max-width: 640px; }
img.plot { max-width: 100%; border: 1px solid #ddd; }
p.note { font-size: 13px; color: #444; }
"""

_SCRIPT = """
<script>
window.addEventListener('load', function () {
  var imgs = document.querySelectorAll('img.plot');
  var ok = 0;
  var boxes = [];
  imgs.forEach(function (im) {
    if (im.complete && im.naturalWidth > 0) { ok += 1; }
    var r = im.getBoundingClientRect();
    boxes.push([im.getAttribute('data-plot'), Math.round(r.left + window.scrollX),
                Math.round(r.top + window.scrollY), Math.round(r.width), Math.round(r.height)]);
  });
  document.body.setAttribute('data-plots-loaded', ok + '/' + imgs.length);
  document.body.setAttribute('data-plot-boxes', JSON.stringify(boxes));
});
</script>
"""


def new_figure(width_in: float, height_in: float):
  """A matplotlib Figure with no pyplot state (matplotlib is imported here, only when a report
  is drawn, so importing schemas stays light)."""
  from matplotlib.figure import Figure
  return Figure(figsize=(width_in, height_in), dpi=100, layout="constrained")


def figure_png(fig) -> bytes:
  """PNG bytes of a matplotlib Figure (Agg canvas, white background)."""
  import io
  from matplotlib.backends.backend_agg import FigureCanvasAgg
  FigureCanvasAgg(fig)
  buf = io.BytesIO()
  fig.savefig(buf, format="png", dpi=100, facecolor="white")
  return buf.getvalue()


def png_data_uri(png: bytes) -> str:
  """``data:image/png;base64,...`` for embedding PNG bytes in an ``<img src>``."""
  if not png.startswith(b"\x89PNG\r\n\x1a\n"):
    raise ValueError("not PNG data (missing the PNG signature)")
  return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def escape(text) -> str:
  return html.escape(str(text), quote=True)


class Page:
  """Builds the page; ``render()`` returns the HTML text, ``write(path)`` writes it atomically."""

  def __init__(self, title: str, subtitle: str = ""):
    self.title = title
    self.subtitle = subtitle
    self.warnings: List[str] = []
    self._body: List[str] = []
    self.plot_names: List[str] = []

  def warn(self, messages: Iterable[str]) -> None:
    """Adds warnings to the box at the top (duplicates are kept once, first order wins)."""
    for message in messages:
      if message not in self.warnings:
        self.warnings.append(message)

  def section(self, title: str) -> None:
    self._body.append(f"<h2>{escape(title)}</h2>")

  def note(self, text: str) -> None:
    self._body.append(f'<p class="note">{escape(text)}</p>')

  def raw(self, fragment: str) -> None:
    """Trusted HTML written by the caller (escape any data in it with ``escape``)."""
    self._body.append(fragment)

  def table(self, headers: Sequence[str], rows: Iterable[Sequence]) -> None:
    """A table; int and float cells are right-aligned."""
    out = ["<table><tr>" + "".join(f"<th>{escape(h)}</th>" for h in headers) + "</tr>"]
    for row in rows:
      cells = []
      for cell in row:
        if isinstance(cell, (int, float)) and not isinstance(cell, bool):
          text = f"{cell:.4g}" if isinstance(cell, float) else str(cell)
          cells.append(f'<td class="num">{escape(text)}</td>')
        else:
          cells.append(f"<td>{escape(cell)}</td>")
      out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    self._body.append("".join(out))

  def figure(self, name: str, png: bytes, caption: str = "",
             width: Optional[int] = None) -> None:
    """An embedded PNG plot named ``name`` (used as ``data-plot`` and alt text)."""
    style = f' style="width:{int(width)}px"' if width else ""
    self.plot_names.append(name)
    self._body.append(
        f'<figure><img class="plot" data-plot="{escape(name)}" alt="{escape(name)}"{style} '
        f'src="{png_data_uri(png)}"><figcaption>{escape(caption)}</figcaption></figure>')

  def render(self) -> str:
    if self.warnings:
      box = ('<div class="warnings" id="warnings"><b>Warnings</b><ul>' +
             "".join(f"<li>{escape(w)}</li>" for w in self.warnings) + "</ul></div>")
    else:
      box = '<div class="ok" id="warnings">No warnings.</div>'
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            f"<title>{escape(self.title)}</title><style>{_CSS}</style></head><body>\n"
            f"<h1>{escape(self.title)}</h1>"
            f'<div class="subtitle">{escape(self.subtitle)}</div>\n{box}\n' +
            "\n".join(self._body) + f"\n{_SCRIPT}</body></html>\n")

  def write(self, path: str) -> None:
    """Writes the page to a local ``path``; it appears complete or not at all."""
    _files.atomic_write_bytes(path, self.render().encode("utf-8"))
