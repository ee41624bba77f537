"""The options page's picture-classification choice: "Fastest" (MobileNetV2 alone, the default)
or "Most accurate" (the ensemble); the next click is answered by the chosen model."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from e2e_support import EXTENSION_URL, PHOTOS, SAMPLES, img_page

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


def choose(options, value: str) -> None:
    options.check(f"input[name=imageModel][value={value}]")
    options.click("#save")
    expect(options.locator("#message")).to_have_attribute("data-kind", "ok")


def test_fastest_and_most_accurate_from_the_options_page(browser, servers, e2e_home, page_factory):
    from host.capabilities import ModelPool
    from host.store import ModelStore

    name = PHOTOS["same_origin"]
    ensemble_answer = ModelPool(ModelStore(e2e_home), 1).get("mobilenet_ensemble").classify(
        (SAMPLES / name).read_bytes(), 5)
    options = page_factory(f"{EXTENSION_URL}/options/options.html")
    assert options.locator("input[name=imageModel][value=fastest]").is_checked()  # the default
    page = page_factory(servers.page("models.html", img_page("Models", f'<img src="{name}" width="400">')))

    overlay, _ = browser.classify(page, f"{servers.a}/{name}")
    assert overlay.get_attribute("data-tabsense-model") == "mobilenet_v2_1.0_224_quant"

    choose(options, "accurate")
    try:
        overlay.locator(".close").click()
        overlay, _ = browser.classify(page, f"{servers.a}/{name}")
        assert overlay.get_attribute("data-tabsense-model") == "mobilenet_ensemble"
        assert overlay.get_attribute("data-tabsense-label") == ensemble_answer["labels"][0]["label"]
        options.reload()
        assert options.locator("input[name=imageModel][value=accurate]").is_checked()  # remembered
    finally:
        choose(options, "fastest")
