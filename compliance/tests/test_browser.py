import pytest

from smsportal.factories.tenants import DEFAULT_PASSWORD

CSV = (
    "手机号,用途,同意时间,来源,凭证\n"
    "13800138001,营销,2026-05-01 10:00,网页表单,会员注册页勾选接收优惠\n"
    "13001300001,营销,2026-05-02 09:30,纸质,门店纸质登记表第 7 号\n"
    "1380013,营销,,,\n"
)


@pytest.mark.browser
def test_import_consents_from_csv_and_see_a_numbers_history(page, member, tmp_path):
    csv_file = tmp_path / "会员同意.csv"
    csv_file.write_text(CSV, encoding="utf-8")

    page.goto("/accounts/login/")
    page.fill("input[name=login]", member.user.email)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_load_state()

    page.goto("/")
    page.get_by_role("link", name="同意与合规").first.click()
    page.wait_for_url("**/compliance/")
    page.get_by_role("link", name="导入 CSV / Excel").click()
    page.set_input_files("input[name=file]", str(csv_file))
    page.select_option("select[name=purpose]", "marketing")
    page.get_by_role("button", name="检查文件").click()
    page.wait_for_url("**/compliance/imports/*/")

    assert page.locator("#valid-rows").inner_text() == "2"
    assert page.locator("#error-rows").inner_text() == "1"
    errors = page.locator("#import-errors").inner_text()
    # Row 4: the number column, with the reason (smsportal.numbers' message, translated when its catalogue is).
    assert "4\t手机号码" in errors and ("过短" in errors or "Too short" in errors)
    page.get_by_label("导入有效行，报告其余行").check()
    page.get_by_role("button", name="执行导入").click()
    assert "已导入 2 条记录" in page.locator("#import-result").inner_text()

    page.get_by_role("link", name="同意记录").first.click()
    page.fill("input[name=number]", "138 0013 8001")
    page.get_by_role("button", name="查看历史").click()
    page.wait_for_url("**/compliance/numbers/*/")
    assert page.locator("#number-heading").inner_text() == "+8613800138001"  # the owner may see full numbers
    history = page.locator("#history").inner_text()
    assert "已同意 · 营销" in history and "会员注册页勾选接收优惠" in history and "2026-05-01 10:00" in history
