"""Draws docs/dashboard.png from ipresmgr-dashboard.json: the panels where Grafana places them
(gridPos), each with its title, kind, unit and queries. A drawing of the layout, not a Grafana
screenshot (no data in it). Needs rsvg-convert (Debian: librsvg2-bin).

    python docker/monitoring/render_dashboard.py [--svg-only]"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from xml.sax.saxutils import escape

HERE = Path(__file__).resolve().parent
DOCS = HERE.parent.parent / "docs"
COLUMN, ROW_UNIT, MARGIN, HEADER = 70, 34, 16, 64
MONO_CHAR = 6.6  # width of one character of 11 px DejaVu Sans Mono


def panel_svg(panel: dict) -> str:
    grid = panel["gridPos"]
    x, y = MARGIN + grid["x"] * COLUMN, HEADER + grid["y"] * ROW_UNIT
    width, height = grid["w"] * COLUMN - 8, grid["h"] * ROW_UNIT - 8
    unit = panel["fieldConfig"]["defaults"]["unit"]
    parts = [
        f'<rect x="{x}" y="{y}" width="{width}" height="{height}" rx="4" fill="#181b1f" stroke="#2c3235"/>',
        f'<text x="{x + 10}" y="{y + 22}" font-size="14" font-weight="bold" fill="#d8d9da">'
        f"{escape(panel['title'])}</text>",
        f'<text x="{x + width - 10}" y="{y + 22}" font-size="11" fill="#8e8e8e" text-anchor="end">'
        f"{escape(panel['type'])}, {escape(unit)}</text>",
    ]
    line_y, wrap = y + 44, max(20, int((width - 20) / MONO_CHAR))
    colours = ["#73bf69", "#f2cc0c", "#5794f2", "#ff780a", "#b877d9", "#f2495c"]
    for index, target in enumerate(panel["targets"]):
        colour = colours[index % len(colours)]
        legend = target.get("legendFormat", "")
        parts.append(f'<rect x="{x + 10}" y="{line_y - 9}" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{x + 26}" y="{line_y}" font-size="11" fill="#d8d9da">{escape(legend)}</text>')
        line_y += 15
        for line in textwrap.wrap(target["expr"], wrap):
            if line_y > y + height - 8:
                break
            parts.append(
                f'<text x="{x + 10}" y="{line_y}" font-size="11" font-family="DejaVu Sans Mono" fill="#9fa7b3">'
                f"{escape(line)}</text>"
            )
            line_y += 14
        line_y += 6
    return "\n".join(parts)


def dashboard_svg(dashboard: dict) -> str:
    panels = dashboard["panels"]
    bottom = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels)
    width, height = MARGIN * 2 + 24 * COLUMN, HEADER + bottom * ROW_UNIT + MARGIN
    variables = ", ".join(f"${v['name']}" for v in dashboard["templating"]["list"])
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="DejaVu Sans">',
            f'<rect width="{width}" height="{height}" fill="#111217"/>',
            f'<text x="{MARGIN}" y="30" font-size="20" font-weight="bold" fill="#d8d9da">{escape(dashboard["title"])}'
            f" (uid {escape(dashboard['uid'])})</text>",
            f'<text x="{MARGIN}" y="50" font-size="12" fill="#8e8e8e">Variables {escape(variables)}; refresh '
            f"{escape(dashboard['refresh'])}. Drawn from docker/monitoring/ipresmgr-dashboard.json by "
            "render_dashboard.py: the layout, titles and queries, not a screenshot (no data).</text>",
            *(panel_svg(p) for p in panels),
            "</svg>",
        ]
    )


def main(argv: list[str]) -> int:
    dashboard = json.loads((HERE / "ipresmgr-dashboard.json").read_text())
    svg = DOCS / "dashboard.svg"
    svg.write_text(dashboard_svg(dashboard))
    if "--svg-only" in argv:
        return 0
    converter = shutil.which("rsvg-convert")
    if not converter:
        print("rsvg-convert is missing (apt-get install librsvg2-bin)", file=sys.stderr)
        return 1
    subprocess.run([converter, "-o", str(DOCS / "dashboard.png"), str(svg)], check=True)
    svg.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
