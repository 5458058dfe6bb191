"""The API's docs page (/api/docs) works in a real browser under the site's Content-Security-Policy: Swagger UI,
from the site's own static files, reads /api/openapi.json and lists every call, and nothing is blocked."""

import pytest

pytestmark = [pytest.mark.browser]

# Runs before any page script (Playwright injects it outside the page's policy): collects every violation.
WATCH = """window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(
  e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') + ' at ' + e.sourceFile + ':' + e.lineNumber));"""


def test_the_docs_page_lists_every_call_with_no_policy_violation_and_nothing_from_elsewhere(live_server, browser, db):
    context = browser.new_context()
    context.add_init_script(WATCH)
    page = context.new_page()
    page.set_default_timeout(30_000)
    console, requested = [], []
    page.on("console", lambda message: console.append(message.text))
    page.on("request", lambda request: requested.append(request.url))
    try:
        response = page.goto(f"{live_server.url}/api/docs")
        assert response.status == 200
        page.wait_for_selector(".opblock")
        shown = page.locator(".opblock-summary-path").all_inner_texts()
        for path in ("/api/upload", "/api/styles", "/api/jobs/{job_id}", "/api/jobs/{job_id}/remix",
                     "/api/download/{job_id}"):
            assert any(text.replace("\u200b", "") == path for text in shown), f"{path} is not listed"
        violations = page.evaluate("() => window.__csp") + [t for t in console if "Content Security Policy" in t]
        assert violations == []
        assert requested and all(url.startswith(live_server.url) or url.startswith("data:") for url in requested)
    finally:
        context.close()
