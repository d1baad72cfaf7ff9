"""GET /: the runtimes panel's files, their content types and headers, behind the access token.

The browser click-through lives in ``e2e/browser/`` (``scripts/test-browser``); this is the
fast check that the page and every asset it loads are served, over real HTTP.
"""

from __future__ import annotations

import re

import pytest

from clawboo_host.api.panel import PANEL_FILES

TOKEN = "panel-token-0123456789"


@pytest.fixture
def server(clawboo_host_factory):
    return clawboo_host_factory()


def referenced_assets(html: str) -> list[str]:
    """Every same-origin URL the page loads, plus the modules those modules import."""
    return re.findall(r'(?:src|href)="(/panel/[^"]+)"', html)


def test_the_page_and_its_assets_are_served_with_their_content_types(server):
    with server.client() as client:
        page = client.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        csp = page.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert page.headers["x-content-type-options"] == "nosniff"
        assert '<script type="module" src="/panel/app.js">' in page.text

        assets = referenced_assets(page.text)
        assert set(assets) == {"/panel/panel.css", "/panel/app.js"}
        expected = {".css": "text/css", ".js": "text/javascript"}
        seen = set()
        queue = list(assets)
        while queue:
            url = queue.pop()
            if url in seen:
                continue
            seen.add(url)
            response = client.get(url)
            assert response.status_code == 200, url
            suffix = url[url.rindex(".") :]
            assert response.headers["content-type"] == f"{expected[suffix]}; charset=utf-8", url
            if suffix == ".js":  # follow the module graph: every import must resolve
                queue += [
                    "/panel/" + name.removeprefix("./")
                    for name in re.findall(r'from "(\./[^"]+)"', response.text)
                ]
        # every module in the package is reachable from the page, none is dead weight
        assert {f"/panel/{n}" for n in PANEL_FILES if n != "index.html"} == seen


def test_only_the_packaged_files_are_served(server):
    with server.client() as client:
        for path in ("/panel/nope.js", "/panel/..%2Fapp.py", "/panel/%2e%2e%2fapp.py"):
            response = client.get(path)
            assert response.status_code == 404, path
            assert response.json() == {"error": "Not Found"}
        assert client.post("/").status_code == 405


def test_behind_the_access_token(clawboo_host_factory, clawboo_env):
    server = clawboo_host_factory(env=dict(clawboo_env, CLAWBOO_ACCESS_TOKEN=TOKEN))
    with server.client(follow_redirects=False) as client:
        # The page itself holds no data: it loads, and its API calls are refused until
        # the cookie is set.
        page = client.get("/")
        assert page.status_code == 200 and TOKEN not in page.text
        assert 'name="access_token"' in page.text  # the sign-in form the page shows on 401
        assert client.get("/api/runtimes").status_code == 401

        # /?access_token= sets the HttpOnly cookie and redirects to a URL without it.
        redirect = client.get(f"/?access_token={TOKEN}")
        assert redirect.status_code == 302 and redirect.headers["location"] == "/"
        assert "HttpOnly" in redirect.headers["set-cookie"]
        page = client.get(redirect.headers["location"])
        assert page.status_code == 200 and TOKEN not in page.text
        assert client.get("/api/runtimes").status_code == 200
        assert client.get("/panel/app.js").status_code == 200

        assert client.get("/?access_token=wrong").status_code == 401
