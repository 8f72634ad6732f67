"""The base layout on a 390px-wide phone: the top bar folds into a menu that opens on tap."""

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]


def test_phone_menu_opens_and_offers_login_and_language(page):
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/")
    login_link = page.locator(".userbox a[href='/accounts/login/']")
    assert not login_link.is_visible()
    page.click("label.nav-toggle-label")
    assert login_link.is_visible()
    assert page.locator(".userbox select[name=language]").is_visible()
    # Nothing overflows the phone's width.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    page.select_option(".userbox select[name=language]", "en")  # submits the set_language form
    expect(page.locator("h1")).to_contain_text("Messages that arrive")
    expect(page.locator("html")).to_have_attribute("lang", "en")
