import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from smsportal.errors import ServiceError
from templates.tests.conftest import fake_pdf, pdf_file, png_file
from templates.uploads import DOCUMENT_TYPES, FRAME_TYPES, check_upload


@pytest.mark.parametrize(
    ("upload", "allowed", "kind"),
    [
        (pdf_file(), DOCUMENT_TYPES, "pdf"),
        (png_file(), DOCUMENT_TYPES, "png"),
        (png_file("a.jpg", fmt="JPEG"), DOCUMENT_TYPES, "jpeg"),
        (png_file("a.gif", fmt="GIF"), FRAME_TYPES, "gif"),
    ],
)
def test_accepted_by_content(upload, allowed, kind):
    assert check_upload(upload, allowed=allowed, max_bytes=5_000_000, field="f").kind == kind


def test_name_and_claimed_type_do_not_matter():
    renamed = png_file("looks-like.pdf")
    assert check_upload(renamed, allowed=DOCUMENT_TYPES, max_bytes=5_000_000, field="f").kind == "png"
    with pytest.raises(ServiceError) as caught:
        check_upload(fake_pdf(), allowed=DOCUMENT_TYPES, max_bytes=5_000_000, field="f")
    assert caught.value.code == "file_type" and caught.value.fields["f"]


@pytest.mark.parametrize(
    ("upload", "code"),
    [
        (None, "file_required"),
        (SimpleUploadedFile("empty.pdf", b""), "file_empty"),
        (pdf_file(pad=2000), "file_too_large"),
        (SimpleUploadedFile("x.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>"), "file_type"),
        (SimpleUploadedFile("x.png", b"\x89PNG\r\n\x1a\n" + b"garbage" * 10), "file_type"),
    ],
)
def test_refused(upload, code):
    with pytest.raises(ServiceError) as caught:
        check_upload(upload, allowed=DOCUMENT_TYPES, max_bytes=1000, field="f")
    assert caught.value.code == code


def test_decompression_bomb_is_refused_not_crashing():
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("1", (20000, 20000)).save(buffer, format="PNG")  # tiny file, 400 Mpx
    bomb = SimpleUploadedFile("bomb.png", buffer.getvalue())
    with pytest.raises(ServiceError) as caught:
        check_upload(bomb, allowed=FRAME_TYPES, max_bytes=5_000_000, field="f")
    assert caught.value.code == "file_type"
