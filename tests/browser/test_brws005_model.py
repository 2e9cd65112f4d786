"""Model in a real browser: the k sweep with the chosen k marked, the algorithm table, PCA 2-D, and the 3-D
scatter absent at load (not even its data) until asked for."""

from __future__ import annotations

from playwright.sync_api import Page, Response, expect

from tests.browser.conftest import Server, shot, wait_idle


def test_brws005_model_shows_sweep_pca_and_distributions(app_page: Page, live_server: Server) -> None:
    bodies: list[str] = []  # what the server sent while the page loaded (layout and callback answers)

    def keep(response: Response) -> None:
        if response.url.split("?")[0].endswith(("/_dash-layout", "/_dash-update-component")):
            bodies.append(response.text())

    app_page.on("response", keep)
    app_page.goto(live_server.url + "/model")
    wait_idle(app_page)
    app_page.remove_listener("response", keep)
    assert any("model-pca2d" in b for b in bodies)  # the page itself came through these answers
    assert not any("scatter3d" in b for b in bodies)  # ... without the 3-D scatter's data
    sweep = app_page.locator("#model-sweep")
    # Four panels, each with the sweep's line and the chosen k's star, and the rule printed below.
    expect(sweep.locator(".scatterlayer .trace")).to_have_count(8)
    expect(sweep.locator(".legendtext")).to_have_text("chosen k = 4")
    expect(sweep.locator("path.point")).not_to_have_count(0)
    expect(app_page.locator("#model-k-reason")).to_contain_text("k = 4 is the elbow")
    expect(app_page.locator("#model-kpi-k")).to_contain_text("k = 4")
    expect(app_page.locator("#model-kpi-ari")).to_contain_text("Adjusted Rand index")

    table = app_page.locator("#model-algorithms table")
    expect(table.locator("tbody tr")).to_have_count(3)
    expect(table.locator("tbody tr").first).to_contain_text("K-Means")
    expect(table.locator("tbody tr").first).to_contain_text("stored model")
    expect(table).to_contain_text("DBSCAN")

    # 2-D: 4 segments plus the outliers trace, every customer of the sample drawn.
    expect(app_page.locator("#model-pca2d .scatterlayer .trace")).to_have_count(5)
    expect(app_page.locator("#model-pca2d .legendtext").last).to_contain_text("Outliers")
    # 3-D: drawn on request only; then a WebGL scene with its canvas.
    expect(app_page.locator("#model-pca3d")).to_have_count(0)
    assert not app_page.evaluate(
        "() => [...document.querySelectorAll('.js-plotly-plot')]"
        ".some(g => (g.data || []).some(t => t.type === 'scatter3d'))"
    )
    app_page.get_by_role("button", name="Show the 3-D view").click()
    wait_idle(app_page)
    expect(app_page.locator("#model-pca3d .gl-container canvas").first).to_be_attached()
    expect(app_page.get_by_role("button", name="Show the 3-D view")).to_have_count(0)
    assert app_page.evaluate(
        "() => document.querySelector('#model-pca3d .js-plotly-plot').data.every(t => t.type === 'scatter3d')"
    )
    expect(app_page.locator("#model-pca3d .legendtext")).to_have_count(5)
    assert "WebGL" not in app_page.locator("#model-pca3d").inner_text()

    # The histogram follows the feature picked.
    expect(app_page.locator("#model-histogram .xtitle")).to_have_text("Recency (days)")
    app_page.locator("#model-feature").click()
    app_page.get_by_role("option", name="Revenue", exact=True).click()
    wait_idle(app_page)
    expect(app_page.locator("#model-histogram .xtitle")).to_have_text("Revenue")
    expect(app_page.locator("#model-histogram-note")).to_contain_text("1st-99th percentile")
    expect(app_page.locator("#model-histogram .barlayer .trace")).to_have_count(4)

    expect(app_page.get_by_text("exact duplicate of an earlier line")).to_be_visible()
    app_page.mouse.move(5, 5)
    shot(app_page, "model")
