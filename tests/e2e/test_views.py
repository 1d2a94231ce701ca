"""What a person looks at, in a real headless Chromium on the package's stack: the Data Health Check report, the
Prefect UI's flow runs page and the dbt docs' lineage graph.

Each check asserts what a reader would see (the title, the sections, the provider names, the plots, the graph),
that the page logged no console error and threw no exception (tests/e2e/browser.py lists the few 404s that are
forgiven, and why), and that it fetched nothing from outside the machine; each saves a screenshot under
test-output/screenshots/. The module runs after test_backfills (file order), whose runs fill the runs page; run on
its own, it makes the one lumina run it needs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.e2e.browser import LAUNCH_ARGS, PageWatch, chromium_path, screenshot
from tests.stack.helpers import Stack, vodflow

pytestmark = pytest.mark.slow

PROVIDERS = ("lumina", "atlas", "harbor", "meridian")
#: The health report's sections, in reading order (vodflow/health/render.py).
REPORT_SECTIONS = [
    "Recommendations",
    "Freshness and lag",
    "Completeness",
    "EIDR coverage",
    "Quarantine",
    "Ingest runs",
    "Supply chain",
    "dbt",
    "Anomalies and alerts",
]
#: Playwright's waits, in milliseconds: generous for a loaded 2-core machine, and each ends as soon as it is met.
WAIT_MS = 30_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the module."""
    executable = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page (its own context: no cookies or storage shared between checks), as wide as a laptop."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.set_default_timeout(WAIT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="module")
def lumina_runs(stack: Stack) -> list[str]:
    """The lumina runs on the stack (newest first); on its own the module makes one: the pages need data to show."""
    found = _lumina_runs(stack)
    if not found:  # test_backfills has not run: the stack is empty
        ingested = vodflow("ingest", "lumina", "--wait", timeout=600, env=stack.env)
        assert ingested.returncode == 0, ingested.stdout + ingested.stderr
        found = _lumina_runs(stack)
    assert found, "no lumina run on the stack to look for"
    return found


def show(capsys: pytest.CaptureFixture[str], path: Path, what: str) -> None:
    """Print a screenshot's path in the test output (past pytest's capture, so `make test` shows it)."""
    with capsys.disabled():
        print(f"\nscreenshot: {path} ({what})")


def test_the_health_report_reads_as_a_manager_expects(
    stack: Stack, lumina_runs: list[str], page: Page, capsys: Any
) -> None:
    result = vodflow("health", "--no-open", timeout=300, env=stack.env)
    assert result.returncode == 0, result.stdout + result.stderr
    day = re.search(r"^Data Health Check (\d{4}-\d{2}-\d{2}) \(30 days\)$", result.stdout, re.MULTILINE)
    assert day, result.stdout
    assert (stack.data_dir / "reports" / "health-latest.html").is_file()

    origin = stack.url("VODFLOW_DOCS_PORT")
    watch = PageWatch(origin).attach(page)
    page.goto(f"{origin}/health/")
    page.wait_for_selector("section#alerts h2")
    # Every plot decoded (an <img> of a broken data: URI has no natural width).
    page.wait_for_function("Array.from(document.images).every(img => img.complete)")

    assert page.title() == f"Data Health Check — {day[1]}"
    assert page.locator("header h1").inner_text() == "Data Health Check"
    assert page.locator("section h2").all_inner_texts() == REPORT_SECTIONS
    labels, values = page.locator(".tile .label").all_text_contents(), page.locator(".tile .value").all_text_contents()
    tiles = dict(zip(labels, values, strict=True))
    assert re.fullmatch(r"[\d,]+", tiles["assets in the catalogue"]), tiles  # the stack holds lumina's assets
    providers = page.locator("section#completeness tbody tr td:first-child").all_inner_texts()
    assert set(PROVIDERS) <= set(providers), providers
    plots = page.evaluate(
        "Array.from(document.querySelectorAll('figure img')).map(img => [img.alt, img.naturalWidth, img.naturalHeight])"
    )
    drawn = [alt for alt, width, height in plots if width > 100 and height > 100]
    assert drawn, f"no plot rendered: {plots}"
    assert "Share of assets with each field, per provider" in drawn
    watch.assert_clean()
    show(capsys, screenshot(page, "health-report", full_page=True), "the Data Health Check, full page")


#: The run names in the runs page's list (each row reads "<flow> > <run name>").
RUN_NAMES = ".flow-run-list-item a.flow-run-bread-crumbs__flow-run-link"


def rendered(page: Page) -> None:
    """Wait until the runs list is drawn in full: rows come first, their flows, pools and the chart a moment later."""
    page.wait_for_function(
        """selector => {
            const rows = document.querySelectorAll('.flow-run-list-item');
            const flows = document.querySelectorAll('.flow-run-list-item .flow-run-bread-crumbs__flow-link');
            return rows.length > 0 && document.querySelectorAll(selector).length === rows.length
                && flows.length === rows.length;
        }""",
        arg=RUN_NAMES,
    )
    page.wait_for_load_state("networkidle")  # the work pools, task-run counts and the chart's history


def _lumina_runs(stack: Stack) -> list[str]:
    """Names of the lumina runs the runs page should list: started in the last days, newest first."""
    since = (datetime.now(UTC) - timedelta(days=6)).isoformat()
    body = {
        "flow_runs": {
            "name": {"like_": "lumina/"},
            "start_time": {"after_": since},
        },
        "sort": "START_TIME_DESC",
        "limit": 50,
    }
    response = httpx.post(f"{stack.api_url}/flow_runs/filter", json=body, trust_env=False, timeout=30)
    response.raise_for_status()
    return [run["name"] for run in response.json() if run["name"].startswith("lumina/")]


def test_the_flow_runs_page_lists_the_provider_runs(
    stack: Stack, lumina_runs: list[str], page: Page, capsys: Any
) -> None:
    expected = _lumina_runs(stack)  # again: a scheduled lumina run may have started since
    origin = stack.url("VODFLOW_PREFECT_PORT")
    watch = PageWatch(origin).attach(page)
    # A tall window: the UI scrolls the list inside itself, so a full-page screenshot would show no more rows.
    page.set_viewport_size({"width": 1440, "height": 1800})
    page.goto(f"{origin}/runs")
    rendered(page)
    assert page.title() == "Runs • Prefect Server"
    assert page.locator("h1, .page-heading").first.inner_text().strip().startswith("Runs")
    show(capsys, screenshot(page, "prefect-flow-runs"), "the Prefect UI's flow runs page")

    # As a person would look for one provider's runs: the search box narrows the list to them.
    page.get_by_placeholder("Search by flow run name").filter(visible=True).fill("lumina/")
    page.wait_for_function(
        """selector => {
            const names = Array.from(document.querySelectorAll(selector)).map(link => link.textContent.trim());
            return names.length > 0 && names.every(name => name.includes('lumina/'));
        }""",
        arg=RUN_NAMES,
    )
    rendered(page)
    shown = page.locator(RUN_NAMES).all_inner_texts()
    missing = [name for name in expected if name not in shown]
    assert missing == [], f"runs on the server but not on the page: {missing}; the page shows {shown}"
    flows = set(page.locator(".flow-run-list-item .flow-run-bread-crumbs__flow-link").all_inner_texts())
    assert "ingest-lumina" in flows, flows
    watch.assert_clean()
    show(capsys, screenshot(page, "prefect-flow-runs-lumina"), "the runs page searched for lumina/")


GRAPH_STATE = """() => {
    const container = document.getElementById('cy');
    const cy = container && container._cyreg && container._cyreg.cy;
    if (!cy) return null;
    const box = container.getBoundingClientRect();
    const node = id => {
        const found = cy.getElementById(id);
        if (found.empty()) return null;
        const b = found.renderedBoundingBox();
        return {label: found.data('label'), visible: found.visible(), x1: b.x1, x2: b.x2, y1: b.y1, y2: b.y2};
    };
    const painted = Array.from(container.querySelectorAll('canvas')).map(canvas => {
        const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let count = 0;
        for (let i = 3; i < data.length; i += 4) if (data[i] > 0) count++;
        return count / (canvas.width * canvas.height);
    });
    return {
        width: box.width,
        height: box.height,
        visible: cy.nodes(':visible').map(n => n.data('label')),
        downstream_of_lumina: cy.getElementById('source.vodflow.lumina.assets').successors().nodes().map(n => n.id()),
        dim_assets: node('model.vodflow.dim_assets'),
        metrics_daily: node('model.vodflow.metrics_daily'),
        painted: Math.max(...painted),
    };
}"""


def test_the_dbt_docs_show_the_lineage_graph(stack: Stack, page: Page, capsys: Any) -> None:
    generated = vodflow("docs", "--no-serve", timeout=300, env=stack.env)
    assert generated.returncode == 0, generated.stdout + generated.stderr

    origin = stack.url("VODFLOW_DOCS_PORT")
    watch = PageWatch(origin).attach(page)
    page.goto(f"{origin}/")
    tree = page.locator("span.filename-normal").filter(visible=True)  # the project tree in the sidebar
    tree.first.wait_for()
    assert page.title() == "dbt Docs"
    assert set(PROVIDERS) <= set(tree.all_inner_texts()), tree.all_inner_texts()  # the providers' sources

    # The round button at the bottom right, as a person opens the graph.
    page.locator("a[title='View Lineage Graph']").click()
    page.wait_for_function(
        """() => {
            const container = document.getElementById('cy');
            return container && container._cyreg && container.getBoundingClientRect().height > 200
                && container._cyreg.cy.nodes(':visible').length > 0;
        }"""
    )
    page.wait_for_function("() => !document.getElementById('cy')._cyreg.cy.animated()")
    graph = page.evaluate(GRAPH_STATE)

    assert {"lumina.assets", "stg_lumina__assets", "dim_assets", "metrics_daily", "fct_supply_chain"} <= set(
        graph["visible"]
    ), graph["visible"]
    # From the raw source to the marts: lumina's table feeds dim_assets and metrics_daily.
    assert {"model.vodflow.dim_assets", "model.vodflow.metrics_daily"} <= set(graph["downstream_of_lumina"])
    for name in ("dim_assets", "metrics_daily"):  # drawn inside the graph's window, at a readable size
        node = graph[name]
        assert node["visible"] and 0 <= node["x1"] < node["x2"] <= graph["width"], (name, node, graph["width"])
        assert 0 <= node["y1"] < node["y2"] <= graph["height"], (name, node, graph["height"])
        assert node["x2"] - node["x1"] > 20, (name, node)
    assert graph["painted"] > 0.02, f"the graph's canvas is nearly empty ({graph['painted']:.1%} painted)"
    watch.assert_clean()
    page.mouse.move(1, 1)  # off the button just clicked: no hover highlight in the picture
    show(capsys, screenshot(page, "dbt-lineage"), "the dbt docs' lineage graph, raw sources to marts")
