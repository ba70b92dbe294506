"""A stored briefing as Markdown or as a self-contained HTML page.

Everything that comes from articles (headlines, quotes, titles, outlet names, urls) is
escaped: Markdown control characters are backslashed, HTML goes through ``html.escape`` and
links are only emitted for http(s) urls.
"""

from __future__ import annotations

import html
import re
from typing import Any

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|])")


def md_escape(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def _marks(markers: list[int]) -> str:
    return "".join(f"[{n}]" for n in markers)


def _safe_url(url: str | None) -> str | None:
    return url if url and re.match(r"^https?://", url) else None


def _story_title(story: dict[str, Any], status: bool = True) -> str:
    tag = f" ({story['status']})" if status and story.get("status") else ""
    return f"{story['headline']}{tag}"


def _changes_lines(b: dict[str, Any], fmt: str) -> list[tuple[str, list[str]]]:
    """(heading, items) of the what-changed section, items already escaped for ``fmt``."""
    esc = md_escape if fmt == "md" else html.escape
    stories = {s["id"]: s for s in b["stories"]}
    ch = b["changes"]
    new = [esc(stories[i]["headline"]) for i in ch["new_stories"] if i in stories]
    dev = []
    for d in ch["developments"]:
        s = stories.get(d["story_id"])
        if s is None:
            continue
        for k in d["key_points"]:
            kp = s["key_points"][k]
            dev.append(f"{esc(s['headline'])}: {esc(kp['text'])} {_marks(kp['markers'])}")
    return [("New stories", new), ("New developments", dev)]


def to_markdown(b: dict[str, Any]) -> str:
    scope = f" · sources: {', '.join(md_escape(s) for s in b['sources'])}" if b["sources"] else ""
    out = [f"# Daily briefing — {b['date']}", "",
           f"_{b['articles']} articles · {len(b['stories'])} stories · {b['timezone']}{scope} · "
           f"{md_escape(b['backend'])}/{md_escape(b['model'])} · {md_escape(b['prompt'])}_", ""]
    prev = b["changes"]["previous_date"]
    out += [f"## What's new since {prev}" if prev else "## What's new (no previous briefing)", ""]
    for heading, items in _changes_lines(b, "md"):
        out.append(f"**{heading}**")
        out += [f"- {i}" for i in items] or ["- none"]
        out.append("")
    for n, s in enumerate(b["stories"], 1):
        out += [f"## {n}. {md_escape(_story_title(s))}", ""]
        out += [f"- {md_escape(kp['text'])} {_marks(kp['markers'])}" for kp in s["key_points"]]
        if s["perspectives"]:
            out += ["", "**Perspectives**", ""]
            out += [f"- *{md_escape(p['source'])}*: “{md_escape(p['emphasis']['text'])}” "
                    f"{_marks(p['emphasis']['markers'])}" for p in s["perspectives"]]
        srcs = ", ".join(f"{md_escape(x['source'])} ({x['articles']})" for x in s["sources"])
        out += ["", f"Sources: {srcs}", ""]
    if b["single_reports"]:
        out += ["## Single-source reports", ""]
        out += [f"- {md_escape(r['title'])} — {md_escape(r['source'])}" for r in b["single_reports"]]
        out.append("")
    out += ["## Citations", ""]
    for c in b["citations"]:
        url = _safe_url(c.get("url"))
        where = f"[{md_escape(c['title'])}](<{url}>)" if url else md_escape(c["title"])
        out.append(f"{c['marker']}. “{md_escape(c['quote'])}” — {where}, {md_escape(c['source'])} "
                   f"(`{md_escape(c['sentence_id'])}`)")
    return "\n".join(out).rstrip() + "\n"


_CSS = """body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-top:1px solid #ddd;padding-top:1rem}
.meta,.sources{color:#666;font-size:.9rem}sup a{text-decoration:none}ol.cites{font-size:.9rem}
.status{font-size:.8rem;background:#eef;padding:0 .4rem;border-radius:.3rem;margin-left:.4rem}"""


def _sup(markers: list[int]) -> str:
    return "".join(f'<sup><a href="#c{n}">[{n}]</a></sup>' for n in markers)


def _li(items: list[str]) -> str:
    return "<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>" if items else "<p>none</p>"


def _story_html(n: int, s: dict[str, Any]) -> list[str]:
    e = html.escape
    status = f'<span class="status">{e(s["status"])}</span>' if s.get("status") else ""
    out = [f'<section class="story" id="{e(s["id"])}"><h2>{n}. {e(s["headline"])}{status}</h2>',
           _li([f"{e(kp['text'])} {_sup(kp['markers'])}" for kp in s["key_points"]])]
    if s["perspectives"]:
        out += ['<h3>Perspectives</h3>', _li([
            f"<strong>{e(p['source'])}</strong>: “{e(p['emphasis']['text'])}” {_sup(p['emphasis']['markers'])}"
            for p in s["perspectives"]])]
    srcs = ", ".join(f"{e(x['source'])} ({x['articles']})" for x in s["sources"])
    out.append(f'<p class="sources">Sources: {srcs}</p></section>')
    return out


def to_html(b: dict[str, Any]) -> str:
    e = html.escape
    prev = b["changes"]["previous_date"]
    body = [f"<h1>Daily briefing — {e(b['date'])}</h1>",
            f'<p class="meta">{b["articles"]} articles · {len(b["stories"])} stories · {e(b["timezone"])} · '
            f"{e(b['backend'])}/{e(b['model'])} · {e(b['prompt'])}</p>",
            '<section id="changes"><h2>' + (f"What's new since {e(prev)}" if prev else
                                             "What's new (no previous briefing)") + "</h2>"]
    for heading, items in _changes_lines(b, "html"):
        body += [f"<h3>{e(heading)}</h3>", _li(items)]
    body.append("</section>")
    for n, s in enumerate(b["stories"], 1):
        body += _story_html(n, s)
    if b["single_reports"]:
        body += ['<section id="single"><h2>Single-source reports</h2>',
                 _li([f"{e(r['title'])} — {e(r['source'])}" for r in b["single_reports"]]), "</section>"]
    cites = []
    for c in b["citations"]:
        url = _safe_url(c.get("url"))
        title = f'<a href="{e(url)}" rel="noopener">{e(c["title"])}</a>' if url else e(c["title"])
        cites.append(f'<li id="c{c["marker"]}" value="{c["marker"]}">“{e(c["quote"])}” — {title}, {e(c["source"])}'
                     f' <code>{e(c["sentence_id"])}</code></li>')
    body += ['<section id="citations"><h2>Citations</h2><ol class="cites">', *cites, "</ol></section>"]
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
            f"<title>Daily briefing {e(b['date'])}</title><style>{_CSS}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def render(b: dict[str, Any], fmt: str) -> str:
    return to_html(b) if fmt == "html" else to_markdown(b)
