from django.template import engines

from smsportal.pdf import pdf_fonts, pdf_text, render_pdf


def test_chinese_pdf_embeds_a_cjk_font(tmp_path, settings):
    settings.TEMPLATES[0]["DIRS"] = [str(tmp_path)]
    engines._engines = {}
    (tmp_path / "t.html").write_text(
        '{% extends "pdf/base.html" %}{% block body %}<h1>到达率报告 99.6%</h1>{% endblock %}'
    )
    try:
        pdf = render_pdf("t.html", {})
    finally:
        engines._engines = {}
    assert pdf.startswith(b"%PDF")
    assert "到达率报告" in pdf_text(pdf)
    assert any("Hei" in name or "CJK" in name or "Han" in name for name in pdf_fonts(pdf))
