"""Every tab in a real browser: open it by `?tab=slug`, run its main action (the first primary
button) on the default example, wait for the result, and check that something appeared and no
error was shown. Screenshots go to bench/screens/ (not committed)."""
import shutil
import time
from pathlib import Path

import pytest

import demos

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip("Debian's chromium is not installed", allow_module_level=True)

from bench.screenshot import CHROMIUM_ARGS  # noqa: E402
from bench.server import running_app  # noqa: E402

SCREENS = Path(__file__).resolve().parent.parent / "bench" / "screens"
ACTION_TIMEOUT_S = 120
BUSY = ".pending, .generating, .eta-bar, .progress-text"
WEIGHTS_MISSING = "are not available"  # papers.checkpoints.missing_message


@pytest.fixture(scope="module")
def browser():
    """One app and one Chromium for the module (Playwright's sync API allows one at a time)."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    with running_app() as (url, _, _), playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        chromium.base_url = url
        chromium.launcher = p.chromium  # for browsers launched with other flags (fake camera)
        yield chromium
        chromium.close()


def _new_page(browser, **context):
    page = browser.new_context(**context).new_page()
    page.base_url = browser.base_url
    page.errors = []
    page.on("pageerror", lambda err: page.errors.append(str(err)))
    return page


@pytest.fixture(scope="module")
def page(browser):
    return _new_page(browser, viewport={"width": 1400, "height": 1000})


def panel_state(panel) -> tuple[int, int]:
    return len(panel.inner_text()), panel.locator("img, canvas, svg.main-svg, .vega-embed, table").count()


def wait_until_idle(page, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    quiet = 0
    while time.monotonic() < deadline and quiet < 3:
        quiet = quiet + 1 if page.locator(BUSY).count() == 0 else 0
        page.wait_for_timeout(500)


@pytest.mark.parametrize("demo", demos.TABS, ids=[d.slug for d in demos.TABS])
def test_tab_opens_by_link_and_its_main_action_works(page, demo):
    page.goto(f"{page.base_url}?tab={demo.slug}", wait_until="domcontentloaded", timeout=120_000)
    selected = page.get_by_role("tab", selected=True)
    selected.first.wait_for(timeout=120_000)
    page.wait_for_timeout(1500)  # the deep-link load event selects the tab
    assert demo.title in selected.first.inner_text()
    panel = page.locator("[role=tabpanel]:visible").first
    buttons = panel.locator("button.primary:visible")
    if buttons.count() == 0:  # a live tab: it computes on load and on every slider move
        wait_until_idle(page, ACTION_TIMEOUT_S)
        label, changed = "(on load)", panel_state(panel)[1] > 0
    else:
        before = panel_state(panel)
        label = buttons.first.inner_text()
        buttons.first.click()
        page.wait_for_timeout(1000)
        wait_until_idle(page, ACTION_TIMEOUT_S)
        after = panel_state(panel)
        changed = after != before or after[1] > 0  # new output, or the same as the tab showed on load
    page.screenshot(path=str(SCREENS / f"{demo.slug}.png"), full_page=True)
    errors = [e.inner_text() for e in page.locator(".toast-body.error").all() if e.is_visible()]
    errors = [e for e in errors if WEIGHTS_MISSING not in e]  # offline ImageNet tabs say so, by design
    assert not errors, f"{demo.slug}: '{label}' showed an error: {errors}"
    assert changed, f"{demo.slug}: '{label}' showed nothing"
    assert not page.errors, f"{demo.slug}: page errors {page.errors}"


@pytest.fixture(scope="module")
def phone(browser):
    """A first-time visitor on a phone (390 px) whose browser asks for Chinese."""
    return _new_page(browser, viewport={"width": 390, "height": 844}, locale="zh-CN")


def _zh_title(demo) -> str:
    from demos.i18n import chinese

    return chinese().get(demo.title, demo.title)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_front_page_shows_every_card_in_both_languages(phone, lang):
    phone.goto(f"{phone.base_url}?lang={lang}", wait_until="load", timeout=120_000)
    phone.locator(".pg-card").first.wait_for(timeout=60_000)
    assert phone.locator(".pg-card").count() == len(demos.PAPERS)
    body = phone.inner_text("body")
    assert "__i18n__" not in body
    assert ("十七篇经典" in body) == (lang == "zh")
    SCREENS.mkdir(parents=True, exist_ok=True)
    phone.screenshot(path=str(SCREENS / f"front-{lang}-390.png"))


@pytest.mark.parametrize("demo", demos.TABS, ids=[d.slug for d in demos.TABS])
def test_tab_opens_in_chinese_on_a_phone_with_its_result_on_screen(phone, demo):
    """Browser language Chinese, 390 px: the tab title and text are Chinese, no raw translation
    marker, no error, and the tab shows a result without any click."""
    phone.goto(f"{phone.base_url}?tab={demo.slug}", wait_until="load", timeout=120_000)
    selected = phone.get_by_role("tab", selected=True).first
    selected.wait_for(timeout=60_000)
    phone.wait_for_function(f"() => document.querySelector('button[role=tab][data-tab-id=\"{demo.slug}\"]')"
                            "?.getAttribute('aria-selected') === 'true'", timeout=30_000)
    wait_until_idle(phone, ACTION_TIMEOUT_S)
    panel = phone.locator("[role=tabpanel]:visible").first
    panel.evaluate("el => el.scrollIntoView({block: 'end'})")  # images below the fold load too
    phone.wait_for_timeout(500)
    assert _zh_title(demo) in selected.inner_text()
    text, media = panel_state(panel)
    body = panel.inner_text()
    phone.screenshot(path=str(SCREENS / f"{demo.slug}-zh-390.png"), full_page=True)
    assert "__i18n__" not in body, f"{demo.slug}: a raw translation marker is shown"
    assert len([c for c in body if "\u4e00" <= c <= "\u9fff"]) > 50, f"{demo.slug}: little Chinese text"
    assert media > 0, f"{demo.slug}: no result on screen after opening"
    errors = [e.inner_text() for e in phone.locator(".toast-body.error").all() if e.is_visible()]
    assert not errors, f"{demo.slug}: error on opening: {errors}"
    assert not phone.errors, f"{demo.slug}: page errors {phone.errors}"


FAKE_CAMERA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


def test_pcn_live_webcam_streams_frames_and_stops_when_the_tab_is_left(browser):
    """Chromium's fake camera (a moving test pattern) feeds PCN's live mode: several frames are
    detected (the frame rate needs two), each with its time; leaving the tab stops the webcam."""
    with_camera = browser.launcher.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + FAKE_CAMERA)
    try:
        page = with_camera.new_context(viewport={"width": 1400, "height": 1000}, permissions=["camera"]).new_page()
        errors = []
        page.on("pageerror", lambda err: errors.append(str(err)))
        page.goto(f"{browser.base_url}?tab=pcn&lang=en", wait_until="load", timeout=120_000)
        page.get_by_text("Live: your webcam").first.click()
        camera = page.locator("#pcn-live-camera")
        camera.get_by_text("Click to Access Webcam").click()
        record = camera.locator('button.capture-button:has([title="start recording"])')
        record.click(timeout=30_000)
        page.get_by_text("frames/s** shown").or_(page.get_by_text("frames/s shown")).first.wait_for(timeout=60_000)
        status = page.locator("[role=tabpanel]:visible").first.inner_text()
        assert " ms for this 640×480 frame" in status
        page.screenshot(path=str(SCREENS / "pcn-live.png"), full_page=True)
        assert camera.locator('[title="stop recording"]').count() == 1
        page.locator('button[role=tab][data-tab-id="gallery"]').click()
        page.wait_for_timeout(1000)
        assert camera.locator('[title="stop recording"]').count() == 0, "the webcam still streams in a hidden tab"
        assert not errors, errors
    finally:
        with_camera.close()
