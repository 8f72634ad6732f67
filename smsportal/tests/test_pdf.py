import copy

from smsportal.pdf import pdf_fonts, pdf_text, render_pdf


def test_chinese_pdf_embeds_a_cjk_font(tmp_path, settings):
    templates = copy.deepcopy(settings.TEMPLATES)
    templates[0]["DIRS"] = [str(tmp_path), *templates[0]["DIRS"]]
    settings.TEMPLATES = templates  # a new value, so the fixture restores the original afterwards
    (tmp_path / "t.html").write_text(
        '{% extends "pdf/base.html" %}{% block body %}<h1>到达率报告 99.6%</h1>{% endblock %}', encoding="utf-8"
    )
    pdf = render_pdf("t.html", {})
    assert pdf.startswith(b"%PDF")
    assert "到达率报告" in pdf_text(pdf)
    assert any("Hei" in name or "CJK" in name or "Han" in name for name in pdf_fonts(pdf))
