"""The reader's desk in a real browser: Debian's headless Chromium driven by Playwright.

The live server runs the fake backend (streaming one word every 40 ms) over the real seeds.
"""

from __future__ import annotations

import struct
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from service.store.briefings import BriefingStore, scope_key
from tests.web.live import SEED_DAY, Live

pytestmark = pytest.mark.browser

# The live server's fake replies with the first sentence it is shown; this question is answered by
# it (the README's "how many troops" is not: that sentence states no number, and the desk abstains).
ASK_Q = "Who thanked North Korea for sending troops to fight alongside Russia?"
SEED_ID = "north-korea-troops-kursk"


def ask(page: Page, question: str) -> None:
    page.goto("/")
    page.fill("#question", question)
    page.press("#question", "Enter")


def settled_markers(page: Page) -> Any:
    markers = page.locator("#answer a.marker")
    expect(markers.first).to_be_visible()
    return markers


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def shoot(page: Page, where: Path, name: str, *, full_page: bool = False, min_bytes: int = 20_000) -> Path:
    """A screenshot, checked: the viewport's size (or taller, full page) and not a blank image."""
    path = where / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    width, height = png_size(path)
    view = page.viewport_size
    assert view is not None and width == view["width"], (name, width, view)
    assert (height >= view["height"]) if full_page else (height == view["height"]), (name, height, view)
    assert path.stat().st_size >= min_bytes, f"{name}: {path.stat().st_size} bytes looks blank"
    return path


# --------------------------------------------------------------------------------------------
# Ask
# --------------------------------------------------------------------------------------------


def test_ask_then_a_marker_opens_its_sentence_highlighted_by_its_offsets(page: Page, live: Live) -> None:
    ask(page, ASK_Q)
    marker = settled_markers(page).and_(page.locator("[data-marker='1']"))
    sentence_id = marker.get_attribute("data-sentence-id")
    with live.api() as api:
        body = api.post("/v1/ask", json={"question": ASK_Q}).json()
    cited = next(c for c in body["citations"] if c["marker"] == 1)
    assert sentence_id == cited["sentence_id"] and marker.get_attribute("data-quote") == cited["quote"]
    short = body["short_answer"]
    expect(page.locator("#answer .short-answer strong")).to_have_count(1 if short else 0)
    if short:
        expect(page.locator("#answer .short-answer strong")).to_have_text(short["text"])

    # hover: the quote, the outlet, the date and the support score
    marker.hover()
    tip = page.locator("#tip")
    expect(tip).to_be_visible()
    expect(tip).to_contain_text(cited["quote"])
    expect(tip).to_contain_text(f"{cited['source']} · {cited['published_at'][:10]} · support {cited['support']:.2f}")

    marker.click()
    highlighted = page.locator("#pane .sent.cited")
    expect(highlighted).to_have_count(1)
    expect(highlighted).to_have_attribute("data-sentence-id", sentence_id or "")
    expect(highlighted).to_be_in_viewport()
    assert highlighted.text_content() == cited["quote"]
    with live.api() as api:
        text = api.get(f"/v1/articles/{cited['article_id']}").json()["text"]
    assert text[cited["start"]:cited["end"]] == highlighted.text_content()
    assert highlighted.get_attribute("data-start") == str(cited["start"])
    assert highlighted.get_attribute("data-end") == str(cited["end"])
    expect(page.locator("#pane .pane-notice")).to_be_hidden()  # offsets matched
    page.keyboard.press("Escape")
    expect(page.locator("#pane")).to_be_hidden()


def test_a_follow_up_carries_the_conversation_and_says_what_it_searched_for(page: Page, live: Live) -> None:
    ask(page, ASK_Q)
    settled_markers(page)
    fake = live.services.backend("fake")
    before = len(fake.calls)  # type: ignore[attr-defined]
    follow = page.locator("#answer form.follow-up input")
    expect(follow).to_be_visible()
    follow.fill("And what did Russia say about Kursk?")
    follow.press("Enter")
    expect(page.locator("#answer .standalone")).to_contain_text("Searched for:")
    expect(page.locator("#answer .earlier li")).to_have_text([ASK_Q])
    settled_markers(page)
    # the rewrite call saw the first question and the follow-up
    rewrite = fake.calls[before]  # type: ignore[attr-defined]
    shown = rewrite.messages[-1].content
    assert ASK_Q in shown and "And what did Russia say about Kursk?" in shown
    # a question in the main box starts over
    page.fill("#question", ASK_Q)
    page.press("#question", "Enter")
    expect(page.locator("#answer .standalone")).to_have_count(0)
    expect(page.locator("#answer .earlier")).to_have_count(0)
    settled_markers(page)


def test_the_draft_streams_in_before_the_verified_answer(page: Page) -> None:
    page.goto("/")
    page.evaluate("""() => {
      const answer = document.querySelector('#answer');
      window.__seen = [];
      new MutationObserver(() => {
        const draft = answer.querySelector('.draft');
        window.__seen.push({state: answer.dataset.state, draft: draft ? draft.textContent : null,
                            markers: answer.querySelectorAll('[data-marker]').length});
      }).observe(answer, {subtree: true, childList: true, characterData: true, attributes: true});
    }""")
    page.fill("#question", ASK_Q)
    page.press("#question", "Enter")
    expect(page.locator("#answer .draft")).not_to_be_empty()
    expect(page.locator("#answer")).to_have_attribute("aria-busy", "true")
    settled_markers(page)
    expect(page.locator("#answer .draft")).to_have_count(0)
    expect(page.locator("#answer")).to_have_attribute("aria-busy", "false")
    seen = page.evaluate("window.__seen")
    drafts = [i for i, s in enumerate(seen) if s["draft"]]
    finals = [i for i, s in enumerate(seen) if s["markers"]]
    assert drafts and finals and drafts[0] < finals[0], seen
    growing = [s["draft"] for s in seen if s["state"] == "streaming" and s["draft"]]
    assert len(set(growing)) >= 3, "the draft grew word by word"
    assert all(s["markers"] == 0 for s in seen if s["state"] == "streaming")


def test_an_abstention_says_so_and_shows_related_sentences_not_citations(page: Page) -> None:
    ask(page, "Who won the 2022 World Cup?")
    answer = page.locator("#answer")
    expect(answer).to_have_attribute("data-state", "abstained")
    expect(answer.locator(".abstention")).to_have_text("The indexed sources do not answer this question.")
    expect(answer.locator("[data-marker]")).to_have_count(0)
    expect(answer.locator(".sources")).to_have_count(0)
    related = answer.locator(".related li")
    assert related.count() >= 1
    expect(answer.locator(".related h3")).to_contain_text("not citations")
    related.first.locator("a.related-link").click()
    expect(page.locator("#pane .sent.related")).to_have_count(1)
    expect(page.locator("#pane .sent.cited")).to_have_count(0)
    expect(page.locator("#pane-title")).to_contain_text("not a citation")


def test_a_question_about_this_week_says_which_days_it_searched(page: Page) -> None:
    ask(page, "What did Putin say about North Korean troops this week?")  # the seeds are older
    answer = page.locator("#answer")
    expect(answer).to_have_attribute("data-state", "abstained")
    expect(answer).to_contain_text("(the period the question asks about)")
    expect(answer.locator(".meta").last).to_contain_text("searched articles from ")


def test_a_blank_question_asks_nothing_and_the_filters_reach_the_api(page: Page) -> None:
    ask(page, "   ")  # blank: nothing is asked, the focus stays in the box
    expect(page.locator("#answer")).to_have_attribute("data-state", "empty")
    page.goto("/")
    page.locator("details.filters summary").click()
    page.fill("input[name=since]", "2030-01-01")
    page.fill("#question", ASK_Q)
    page.press("#question", "Enter")
    # nothing is published after 2030: the filters reach the API, which abstains
    expect(page.locator("#answer")).to_have_attribute("data-state", "abstained")


# --------------------------------------------------------------------------------------------
# Articles
# --------------------------------------------------------------------------------------------


def test_article_view_links_sentences_and_greys_boilerplate(page: Page) -> None:
    page.goto(f"/articles/{SEED_ID}#s11")
    cited = page.locator("main .sent.cited")
    expect(cited).to_have_count(1)
    expect(cited).to_have_attribute("data-sentence-id", f"{SEED_ID}:11")
    expect(cited).to_contain_text("10,000-12,000")
    expect(cited).to_be_focused()
    boiler = page.locator("main .sent.boilerplate")
    assert boiler.count() >= 3
    assert page.locator("main .sent.boilerplate[data-sentence-id]").count() == 0  # never cited, so no hook
    expect(page.locator("#s5")).to_have_class("sent boilerplate")
    expect(page.locator("main .reason").first).to_contain_text("promotional cross-headline")
    expect(page.locator("main h1")).to_contain_text("Putin thanks North Korea")
    expect(page.locator("main .meta").first).to_contain_text("Fox News · 2025-04-28")


def test_article_list_search_and_filters(page: Page, live: Live) -> None:
    with live.api() as api:
        total = api.get("/v1/articles").json()["total"]
    page.goto("/articles")
    expect(page.locator(".article-list > li")).to_have_count(total)
    page.fill("#q", "Supreme Court abortion")
    page.press("#q", "Enter")
    expect(page.locator(".article-list .title").first).to_contain_text("Mississippi")
    first_match = page.locator(".article-list .match a").first
    href = first_match.get_attribute("href") or ""
    assert "#s" in href
    first_match.click()
    expect(page.locator("main .sent.cited")).to_have_count(1)
    page.goto("/articles")
    page.locator("details.filters summary").click()
    page.locator("label", has_text="Reuters").locator("input").check()
    page.locator("form.search button[type=submit]").click()
    expect(page.locator(".article-list > li")).to_have_count(2)
    expect(page.locator(".article-list .meta").first).to_contain_text("Reuters")


# --------------------------------------------------------------------------------------------
# Briefings and summaries
# --------------------------------------------------------------------------------------------


def test_the_seed_day_briefing_markers_open_their_sentences(page: Page, live: Live) -> None:
    page.goto("/briefings")
    page.fill("#date", SEED_DAY)
    page.press("#date", "Enter")
    expect(page).to_have_url(f"{live.url}/briefings/{SEED_DAY}")
    expect(page.locator("article.story")).to_have_count(4)
    expect(page.locator("#changes")).to_contain_text("No earlier briefing")
    expect(page.locator(".perspectives dt").first).to_be_visible()
    expect(page.locator(".neutrality")).to_contain_text("Loaded words added")
    with live.api() as api:
        stored = api.get(f"/v1/briefings/{SEED_DAY}").json()
    by_marker = {c["marker"]: c for c in stored["citations"]}
    markers = page.locator("main a.marker")
    count = markers.count()
    assert count >= 8
    for i in range(count):
        marker = markers.nth(i)
        n = int(marker.get_attribute("data-marker") or 0)
        marker.click()
        cited = page.locator("#pane .sent.cited")
        expect(cited).to_have_attribute("data-sentence-id", by_marker[n]["sentence_id"])
        assert cited.text_content() == by_marker[n]["quote"]
        page.keyboard.press("Escape")
        expect(page.locator("#pane")).to_be_hidden()


def test_a_briefing_being_built_shows_the_day_and_then_itself(page: Page, live: Live) -> None:
    day = "2024-01-03"
    with live.api() as api:
        r = api.post("/v1/articles", json={"id": "fair-a", "source": "Outlet A", "published_at": day,
                                            "title": "County fair opens",
                                            "text": "The county fair opened on Wednesday."})
        assert r.status_code == 200
    store = BriefingStore(live.services.settings.data_dir / "briefings.sqlite3")
    scope = scope_key("UTC", ())
    assert store.claim_run(day, scope, "test", now=time.time(), stale_after_s=3600)
    page.goto(f"/briefings/{day}")
    expect(page.locator('.status[data-state="building"]')).to_contain_text("being written")
    expect(page.locator(".article-list")).to_contain_text("County fair opens")
    with live.api() as api:
        assert api.post("/v1/briefings", json={"date": day}).status_code == 201
    store.finish_run(day, scope, now=time.time())
    expect(page.locator(".singles")).to_contain_text("County fair opens")  # the page reloaded by itself


def test_summarise_a_selection_with_a_readable_neutrality_report(page: Page) -> None:
    page.goto("/articles?q=Capitol+Police+chief")
    for box in page.locator(".article-list input[type=checkbox]").all()[:3]:
        box.check()
    page.get_by_role("button", name="Summarise the selected articles").click()
    expect(page.locator("ul.selected input:checked")).to_have_count(3)
    page.get_by_role("button", name="Summarise", exact=True).click()
    summary = page.locator("#summary")
    expect(summary.locator("a.marker").first).to_be_visible()
    panel = page.locator(".neutrality")
    for term in ("Loaded words added", "Attribution kept", "Contested claims", "What the pipeline changed"):
        expect(panel).to_contain_text(term)
    assert "{" not in (panel.text_content() or ""), "no raw JSON"
    marker = summary.locator("a.marker").first
    marker.click()
    expect(page.locator("#pane .sent.cited")).to_have_text(marker.get_attribute("data-quote") or "")


# --------------------------------------------------------------------------------------------
# Keyboard, contrast, phone width, escaping
# --------------------------------------------------------------------------------------------


def tab_until(page: Page, test: str, limit: int = 60) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"() => {{ const el = document.activeElement; return Boolean({test}); }}"):
            return
    raise AssertionError(f"Tab never reached: {test}")


def test_keyboard_only(page: Page) -> None:
    page.goto("/")
    tab_until(page, "el && el.id === 'question'")
    page.keyboard.type(ASK_Q)
    page.keyboard.press("Enter")
    settled_markers(page)
    tab_until(page, "el && el.matches('#answer a.marker')")
    marker_n = page.evaluate("document.activeElement.dataset.marker")
    expect(page.locator("#tip")).to_be_visible()  # focus shows the quote too
    page.keyboard.press("Enter")
    cited = page.locator("#pane .sent.cited")
    expect(cited).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("#pane")).to_be_hidden()
    assert page.evaluate("document.activeElement.dataset.marker") == marker_n
    # the briefing page, by keyboard too
    page.goto(f"/briefings/{SEED_DAY}")
    tab_until(page, "el && el.matches('main a.marker')")
    page.keyboard.press("Enter")
    expect(page.locator("#pane .sent.cited")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("#pane")).to_be_hidden()
    assert page.evaluate("document.activeElement.matches('main a.marker')")


CONTRAST_JS = """(selectors) => {
  const rgb = (s) => s.match(/[\\d.]+/g).map(Number);
  const lum = ([r, g, b]) => {
    const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (; el; el = el.parentElement) {
      const c = getComputedStyle(el).backgroundColor;
      const v = rgb(c);
      if (v.length < 4 || v[3] > 0) return v.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const out = {};
  for (const sel of selectors) {
    const el = document.querySelector(sel);
    if (!el) { out[sel] = null; continue; }
    const a = lum(rgb(getComputedStyle(el).color).slice(0, 3)), b = lum(background(el));
    out[sel] = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  }
  return out;
}"""


def test_colours_have_enough_contrast(page: Page) -> None:
    ask(page, ASK_Q)
    settled_markers(page).first.click()
    expect(page.locator("#pane .sent.cited")).to_have_count(1)
    selectors = ["body", ".top a", "#answer .answer-text", "#answer .meta", "#answer a.marker", ".hint",
                 "button.primary", "#pane .sent.cited", "#pane .sent.boilerplate", "#pane .reason", "#pane .meta",
                 ".sources a.open-sentence"]
    ratios = page.evaluate(CONTRAST_JS, selectors)
    low = {s: r for s, r in ratios.items() if r is None or r < 4.5}
    assert not low, f"below WCAG AA 4.5:1 (or missing): {low}"
    page.goto(f"/briefings/{SEED_DAY}")
    ratios = page.evaluate(CONTRAST_JS, [".badge", ".chip", ".neutrality .ok", ".side.used", ".side.unused",
                                         ".story h2", "main a.marker"])
    low = {s: r for s, r in ratios.items() if r is not None and r < 4.5}
    assert not low, f"below WCAG AA 4.5:1: {low}"


def test_usable_at_phone_width(browser: Any, live: Live, screenshots: Path) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, base_url=live.url, is_mobile=True,
                                  has_touch=True, device_scale_factor=1)
    page = context.new_page()
    try:
        ask(page, ASK_Q)
        marker = settled_markers(page).first
        no_sideways = "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        assert page.evaluate(no_sideways)
        shoot(page, screenshots, "phone-answer")
        marker.tap()
        pane = page.locator("#pane")
        expect(pane.locator(".sent.cited")).to_be_in_viewport()
        box = pane.bounding_box()
        assert box is not None and box["x"] == 0 and box["width"] == 390  # the pane covers the screen
        expect(page.locator(".pane-close")).to_be_in_viewport()
        shoot(page, screenshots, "phone-pane")
        page.locator(".pane-close").tap()
        expect(pane).to_be_hidden()
        for path in ("/articles", f"/briefings/{SEED_DAY}", f"/articles/{SEED_ID}"):
            page.goto(path)
            assert page.evaluate(no_sideways), path
        shoot(page, screenshots, "phone-article")
    finally:
        context.close()


HOSTILE = {
    "id": "hostile",
    "title": "<img src=x onerror=\"window.__pwned=1\">Dam <b>opens</b> & \"floods\"",
    "source": "<script>window.__pwned=2</script>Outlet",
    "published_at": "2024-01-02",
    "text": "Officials said the <script>window.__pwned=3</script> Verde dam opened on Monday.\n"
            "The <img src=y onerror=\"window.__pwned=4\"> bridge over the dam closed on Tuesday.",
}


def test_hostile_article_text_renders_as_text(page: Page, live: Live) -> None:
    with live.api() as api:
        assert api.post("/v1/articles", json=HOSTILE).status_code == 200
    response = page.goto("/articles/hostile")
    assert response is not None and "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator("main h1")).to_have_text(HOSTILE["title"])
    expect(page.locator("main .article-text")).to_have_text(HOSTILE["text"])
    assert page.locator("main img, main script, main b").count() == 0

    page.goto("/articles?q=Verde+dam")
    expect(page.locator(".article-list a.title[href='/articles/hostile']")).to_have_text(HOSTILE["title"])

    ask(page, "When did the Verde dam open?")
    marker = settled_markers(page).first
    marker.hover()
    expect(page.locator("#tip")).to_contain_text("<script>")
    marker.click()
    expect(page.locator("#pane .sent.cited")).to_contain_text("<script>window.__pwned=3</script>")
    expect(page.locator("#pane .pane-article-title")).to_have_text(HOSTILE["title"])
    assert page.locator("#answer img, #answer script, #pane img, #pane script, #tip script").count() == 0

    page.goto("/summaries?article=hostile")
    expect(page.locator("ul.selected label")).to_contain_text(HOSTILE["title"])
    assert page.evaluate("window.__pwned") is None


# --------------------------------------------------------------------------------------------
# Screenshots of each page
# --------------------------------------------------------------------------------------------


def test_screenshots_of_each_page(page: Page, screenshots: Path) -> None:
    ask(page, ASK_Q)
    settled_markers(page).first.click()
    expect(page.locator("#pane .sent.cited")).to_be_in_viewport()
    page.mouse.move(0, 0)
    shoot(page, screenshots, "desk-answer-and-article")
    page.goto("/articles")
    shoot(page, screenshots, "articles")
    page.goto(f"/articles/{SEED_ID}#s11")
    expect(page.locator("main .sent.cited")).to_have_count(1)
    shoot(page, screenshots, "article")
    page.goto("/briefings")
    shoot(page, screenshots, "briefings", min_bytes=10_000)
    page.goto(f"/briefings/{SEED_DAY}")
    shoot(page, screenshots, "briefing", full_page=True)
    page.goto(f"/summaries?article={SEED_ID}")
    page.get_by_role("button", name="Summarise", exact=True).click()
    expect(page.locator("#summary a.marker").first).to_be_visible()
    shoot(page, screenshots, "summary", full_page=True)
