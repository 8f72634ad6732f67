"""PDF rendering with WeasyPrint: one place for fonts and page style.

Chinese needs a CJK font installed on the system (WenQuanYi Micro Hei or Noto Sans CJK;
`bin/sysdeps` installs one). WeasyPrint embeds the subset of glyphs used, so the PDF
renders anywhere. Charts are passed as inline SVG (pygal) and stay vector.
"""

from __future__ import annotations

from django.template.loader import render_to_string

CJK_FONT_STACK = '"WenQuanYi Micro Hei", "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", sans-serif'


def render_pdf(template_name: str, context: dict, *, base_url: str | None = None) -> bytes:
    """Render a Django HTML template (extend `pdf/base.html`) to PDF bytes."""
    from weasyprint import HTML

    html = render_to_string(template_name, {**context, "cjk_font_stack": CJK_FONT_STACK})
    return HTML(string=html, base_url=base_url or ".").write_pdf()


def pdf_fonts(pdf_bytes: bytes) -> set[str]:
    """Names of the fonts embedded in a PDF (tests use it to prove the CJK font is there)."""
    import io

    from pypdf import PdfReader

    names: set[str] = set()
    for page in PdfReader(io.BytesIO(pdf_bytes)).pages:
        fonts = (page.get("/Resources") or {}).get("/Font") or {}
        for font in fonts.values():
            font = font.get_object()
            names.add(str(font.get("/BaseFont", "")))
    return names


def pdf_text(pdf_bytes: bytes) -> str:
    import io

    from pypdf import PdfReader

    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf_bytes)).pages)
