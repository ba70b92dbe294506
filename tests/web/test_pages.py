"""The desk's pages without a browser: what the server renders (TestClient, fake backend)."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from html.parser import HTMLParser

from fastapi.testclient import TestClient

from service.config import REPO_ROOT
from service.web.pages import segments

SEED_ID = "seed"
DAY = "2025-04-28"


def ingest_seed(client: TestClient, text: str) -> None:
    r = client.post("/v1/articles", json={"id": SEED_ID, "title": "Putin thanks North Korea", "text": text,
                                          "source": "Fox News", "published_at": DAY})
    assert r.status_code == 200, r.text


class Spans(HTMLParser):
    """The article text's sentence spans: attributes and text, as a browser would read them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.spans: list[dict[str, str | None]] = []
        self._open: dict[str, str | None] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "span" and "sent" in (a.get("class") or "").split():
            self._open, self._text = a, []

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "span" and self._open is not None:
            self.spans.append({**self._open, "text": "".join(self._text)})
            self._open = None


def test_segments_are_the_whole_text_cut_at_the_offsets(client: TestClient, seed_text: str) -> None:
    from service.api.articles import get_article

    ingest_seed(client, seed_text)
    art = get_article(SEED_ID, client.app.state.services)  # type: ignore[attr-defined]
    segs = segments(art)
    assert "".join(s.text for s in segs) == art.text
    for s in segs:
        if s.index is not None:
            assert art.text[s.start:s.end] == s.text  # type: ignore[misc]


def test_article_page_marks_every_sentence_by_id_and_greys_boilerplate(client: TestClient, seed_text: str) -> None:
    ingest_seed(client, seed_text)
    article = client.get(f"/v1/articles/{SEED_ID}").json()
    page = client.get(f"/articles/{SEED_ID}")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    parser = Spans()
    parser.feed(page.text)
    indexed = [s for s in parser.spans if s.get("data-sentence-id")]
    assert [s["data-sentence-id"] for s in indexed] == [s["id"] for s in article["sentences"]]
    for span, sent in zip(indexed, article["sentences"], strict=True):
        assert span["id"] == f"s{sent['index']}" and span["text"] == sent["text"]
        assert (span["data-start"], span["data-end"]) == (str(sent["start"]), str(sent["end"]))
    boiler = [s for s in parser.spans if "boilerplate" in (s.get("class") or "")]
    assert [s["data-boilerplate"] for s in boiler] == [b["reason"] for b in article["boilerplate"]]
    assert page.text.count("not indexed or cited") == len(article["boilerplate"]) >= 3
    pane = client.get(f"/articles/{SEED_ID}", params={"partial": 1}).text
    assert "<html" not in pane and 'data-sentence-id="seed:11"' in pane


def test_pages_carry_the_stable_hooks_and_a_strict_csp(client: TestClient, seed_text: str) -> None:
    ingest_seed(client, seed_text)
    desk = client.get("/")
    assert 'id="question"' in desk.text and 'id="answer"' in desk.text and 'id="pane"' in desk.text
    csp = desk.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'self'" in csp
    assert not re.search(r"<script(?![^>]*\bsrc=)", desk.text), "no inline script"
    assert not re.search(r"(src|href)=\"(https?:)?//", desk.text), "nothing from another origin"
    assert client.get("/static/desk.js").status_code == 200 and client.get("/static/desk.css").status_code == 200


def test_unknown_article_is_an_html_404(client: TestClient) -> None:
    r = client.get("/articles/nope")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "does not exist" in r.text


def test_hostile_text_is_escaped_everywhere(client: TestClient) -> None:
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    r = client.post("/v1/articles", json={"id": "evil", "title": f"T {evil}", "source": f"S {evil}",
                                          "text": f"The mayor said {evil} the bridge opened on Monday.",
                                          "published_at": DAY})
    assert r.status_code == 200
    for path in ("/articles/evil", "/articles/evil?partial=1", "/articles", "/articles?q=bridge",
                 "/summaries?article=evil", f"/briefings/{DAY}"):
        html = client.get(path).text
        assert "<script>alert" not in html and "<img src=x" not in html, path
        assert "&lt;script&gt;alert" in html, path


def test_briefing_page_states_and_build_button(client: TestClient, seed_text: str) -> None:
    empty = client.get("/briefings/2020-01-01")
    assert empty.status_code == 200 and "No articles were published" in empty.text
    assert 'class="build"' not in empty.text
    ingest_seed(client, seed_text)
    missing = client.get(f"/briefings/{DAY}")
    assert 'data-state="missing"' in missing.text and 'class="build"' in missing.text
    assert "Putin thanks North Korea" in missing.text  # the day's articles, meanwhile
    built = client.post(f"/briefings/{DAY}", follow_redirects=False)
    assert built.status_code == 303 and built.headers["location"] == f"/briefings/{DAY}"
    ready = client.get(f"/briefings/{DAY}")
    assert 'id="changes"' in ready.text and "Reported by one outlet" in ready.text
    assert client.get("/briefings", params={"date": DAY}, follow_redirects=False).headers["location"] == \
        f"/briefings/{DAY}"
    assert client.get("/briefings/not-a-day").status_code == 404


def test_briefing_markers_match_the_stored_citations(client: TestClient) -> None:
    for aid, source, text in [
        ("a1", "Outlet A", "Officials said the Lake Verde dam would open on Monday. It will supply 20,000 homes."),
        ("a2", "Outlet B", "The Lake Verde dam opened on Monday, officials said. Critics said it cost too much."),
    ]:
        client.post("/v1/articles", json={"id": aid, "title": f"{source} story", "text": text, "source": source,
                                          "published_at": "2024-03-04"})
    assert client.post("/v1/briefings", json={"date": "2024-03-04", "model": "fake"}).status_code == 201
    stored = {c["marker"]: c for c in client.get("/v1/briefings/2024-03-04").json()["citations"]}
    html = client.get("/briefings/2024-03-04").text
    found = re.findall(r'<a class="marker" href="/articles/([^"#]+)#s(\d+)" data-marker="(\d+)" '
                       r'data-sentence-id="([^"]+)"', html)
    assert found and {int(n) for _, _, n, _ in found} == set(stored)
    for aid, idx, n, sid in found:
        assert sid == stored[int(n)]["sentence_id"] == f"{aid}:{idx}"


def test_summary_form_errors_say_what_is_wrong(client: TestClient) -> None:
    form = {"content-type": "application/x-www-form-urlencoded"}
    r = client.post("/summaries", content="length=short", headers=form)
    assert r.status_code == 422 and "Give a topic, or select the articles to summarise." in r.text
    r = client.post("/summaries", content="query=" + "x" * 2001, headers=form)
    assert r.status_code == 422 and "query: String should have at most 2000 characters" in r.text


def test_templates_and_static_files_ship_in_the_package() -> None:
    """A non-editable install gets only what package-data names: every desk file must match."""
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["service.web"]
    root = REPO_ROOT / "service" / "web"
    files = [p.relative_to(root).as_posix() for sub in ("templates", "static") for p in (root / sub).rglob("*")
             if p.is_file()]
    assert files
    missing = [f for f in files if not any(fnmatch.fnmatch(f, pat) for pat in patterns)]
    assert not missing, f"not in package-data: {missing}"
