"""The inventory as CSV or as one self-contained HTML page (inline CSS, SVG and vanilla JS; no network)."""

from __future__ import annotations

import csv
import io
from html import escape

from hub.inventory.build import COLUMNS, InventoryRow

_ROW_H, _BAND_GAP, _W = 28, 24, 960
_X = (20, 380, 600)  # source, hub, destination columns
_BOX_W = (300, 160, 340)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet may run as a formula (CSV injection)


def to_csv(rows: list[InventoryRow]) -> str:
    """The inventory as CSV; a cell a spreadsheet would read as a formula is prefixed with ' (shown as text)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: _as_text(v) for k, v in r.cells().items()} for r in rows)
    return buf.getvalue()


def _as_text(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def _box(x: int, y: int, w: int, label: str, cls: str) -> str:
    return (f'<rect class="{cls}" x="{x}" y="{y}" width="{w}" height="{_ROW_H - 6}" rx="4"/>'
            f'<text x="{x + 6}" y="{y + _ROW_H - 12}">{escape(label[:48])}</text>')


def flow_svg(rows: list[InventoryRow]) -> str:
    """Source -> hub -> destination, one band per district; dashed lines are disabled integrations."""
    parts, y = [], 10
    for district in dict.fromkeys(r.district_name for r in rows):
        mine = [r for r in rows if r.district_name == district]
        parts.append(f'<text class="district" x="{_X[0]}" y="{y + 14}">{escape(district)}</text>')
        y += 22
        hub_y = y + (len(mine) - 1) * _ROW_H // 2
        parts.append(_box(_X[1], hub_y, _BOX_W[1], "hub", "hub"))
        for n, r in enumerate(mine):
            ry = y + n * _ROW_H
            cls = "flow" if r.integration.enabled else "flow off"
            mid = _ROW_H // 2 - 3
            parts.append(f'<path class="{cls}" d="M{_X[0] + _BOX_W[0]} {ry + mid} L{_X[1]} {hub_y + mid}"/>')
            parts.append(f'<path class="{cls}" d="M{_X[1] + _BOX_W[1]} {hub_y + mid} L{_X[2]} {ry + mid}"/>')
            parts.append(_box(_X[0], ry, _BOX_W[0], r.integration.source, "src"))
            parts.append(_box(_X[2], ry, _BOX_W[2], r.integration.destination, "dst"))
        y += len(mine) * _ROW_H + _BAND_GAP
    return (f'<svg id="flow" xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{y}" '
            f'viewBox="0 0 {_W} {y}" role="img" aria-label="data flow by district">{"".join(parts)}</svg>')


_CSS = """body{font:14px system-ui,sans-serif;margin:1.5em}table{border-collapse:collapse;font-size:12px}
th,td{border:1px solid #ccc;padding:3px 6px;vertical-align:top}th{background:#eef;cursor:pointer;position:sticky;top:0}
tr.candidate td{background:#fff3cd}tr.disabled td{color:#888}
svg text{font-size:11px}svg .district{font-weight:bold;font-size:13px}rect.src{fill:#e3f2fd;stroke:#1565c0}
rect.hub{fill:#e8f5e9;stroke:#2e7d32}rect.dst{fill:#fce4ec;stroke:#ad1457}
path.flow{stroke:#555;fill:none}path.off{stroke-dasharray:4 3;stroke:#aaa}"""

_JS = """(function(){var t=document.getElementById('inventory'),b=t.tBodies[0],f=document.getElementById('filter');
function rows(){return Array.prototype.slice.call(b.rows);}
f.addEventListener('input',function(){var q=f.value.toLowerCase();rows().forEach(function(r){
r.style.display=r.textContent.toLowerCase().indexOf(q)>=0?'':'none';});});
Array.prototype.forEach.call(t.tHead.rows[0].cells,function(th,i){th.addEventListener('click',function(){
var asc=th.getAttribute('data-sort')!=='asc';th.setAttribute('data-sort',asc?'asc':'desc');
var num=function(s){return s!==''&&!isNaN(s);};
rows().sort(function(x,y){var a=x.cells[i].textContent,c=y.cells[i].textContent;
var r=num(a)&&num(c)?a-c:a.localeCompare(c);return asc?r:-r;}).forEach(function(r){b.appendChild(r);});});});})();"""


def to_html(rows: list[InventoryRow], *, stale_days: int, generated: str) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in COLUMNS)
    body = []
    for r in rows:
        cls = "candidate" if r.disable_candidate else ("disabled" if not r.integration.enabled else "")
        cells = "".join(f"<td>{escape(v)}</td>" for v in r.cells().values())
        body.append(f'<tr class="{cls}" data-integration="{escape(r.integration.id)}">{cells}</tr>')
    candidates = sum(r.disable_candidate for r in rows)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Integration inventory</title><style>{_CSS}</style></head>
<body><h1>Integration inventory</h1>
<p>{len(rows)} integrations, {sum(r.integration.enabled for r in rows)} enabled; <strong>{candidates}</strong>
candidate(s) to disable (enabled, no file for more than {stale_days} days; highlighted). Generated {escape(generated)}.</p>
<h2>Data flow</h2>{flow_svg(rows)}
<h2>Integrations</h2><p><label>Filter <input id="filter" type="search" placeholder="any text"></label>
Click a column header to sort.</p>
<table id="inventory"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>
<script>{_JS}</script></body></html>
"""
