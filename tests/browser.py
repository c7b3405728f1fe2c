"""Headless Debian Chromium for the report tests: DOM after load, screenshots, plot boxes.

The reports' inline script (schemas/report_html.py) writes ``data-plots-loaded`` and
``data-plot-boxes`` on <body>; ``--dump-dom`` shows them, and a screenshot taken at the same
window width has the same layout, so each plot can be cropped out and checked for content.
Flags: headless as root on a machine without network (no sandbox, no GPU, no background
traffic), a fresh profile directory per call.
"""
import html
import json
import os
import shutil
import subprocess
import tempfile

import numpy as np

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
WIDTH = 1400
_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--hide-scrollbars"]


def _run(args, timeout=90):
  with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
    out = subprocess.run([CHROMIUM, *_FLAGS, f"--user-data-dir={profile}", *args],
                         capture_output=True, text=True, timeout=timeout)
  if out.returncode != 0:
    raise RuntimeError(f"chromium exited {out.returncode}: {out.stderr[-2000:]}")
  return out.stdout


def dump_dom(path: str, height: int = 1000) -> str:
  return _run([f"--window-size={WIDTH},{height}", "--dump-dom", "file://" + os.path.abspath(path)])


def body_attribute(dom: str, name: str) -> str:
  start = dom.index("<body")
  tag = dom[start:dom.index(">", start)]
  key = f'{name}="'
  i = tag.index(key) + len(key)
  return html.unescape(tag[i:tag.index('"', i)])


def screenshot(path: str, out_png: str, height: int) -> np.ndarray:
  """The page as a uint8 RGB array (window WIDTH x height)."""
  from PIL import Image
  _run([f"--window-size={WIDTH},{height}", f"--screenshot={out_png}",
        "file://" + os.path.abspath(path)])
  return np.asarray(Image.open(out_png).convert("RGB"))


def render_plots(path: str, out_png: str):
  """(plots-loaded string, {name: cropped RGB array}, whole screenshot) of a report page."""
  dom = dump_dom(path)
  loaded = body_attribute(dom, "data-plots-loaded")
  boxes = json.loads(body_attribute(dom, "data-plot-boxes"))
  height = max(y + h for _, _, y, _, h in boxes) + 40
  shot = screenshot(path, out_png, height)
  crops = {name: shot[y:y + h, x:x + w] for name, x, y, w, h in boxes}
  return loaded, crops, shot


def blank_report(crop: np.ndarray) -> str:
  """Why a crop looks blank ('' when it has content): too small, uniform or nearly white."""
  if crop.shape[0] < 50 or crop.shape[1] < 50:
    return f"only {crop.shape[1]}x{crop.shape[0]} px visible"
  non_white = float((crop < 235).any(axis=2).mean())
  colours = len(np.unique(crop.reshape(-1, 3), axis=0))
  if non_white < 0.02 or colours < 16:
    return f"{100 * non_white:.1f}% non-white pixels, {colours} colours"
  return ""
