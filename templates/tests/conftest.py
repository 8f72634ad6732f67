from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from smsportal.factories.templates import SignatureFactory, TenantVerificationFactory

VALID_USCC = "91350100M000100Y43"


def png_file(name="proof.png", size=(40, 40), fmt="PNG", pad: int = 0) -> SimpleUploadedFile:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format=fmt)
    data = buffer.getvalue() + (b"\0" * pad if fmt == "PNG" else b"")
    content_type = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif"}[fmt]
    return SimpleUploadedFile(name, data, content_type=content_type)


def pdf_file(name="licence.pdf", pad: int = 0) -> SimpleUploadedFile:
    data = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n" + b"0" * pad
    return SimpleUploadedFile(name, data, content_type="application/pdf")


def fake_pdf(name="evil.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"MZ\x90\x00 not a pdf at all", content_type="application/pdf")


@pytest.fixture
def verified(tenant):
    return TenantVerificationFactory(tenant=tenant, registered_domains="huamei.com")


@pytest.fixture
def signature(tenant):
    return SignatureFactory(tenant=tenant, name="华美零售")


@pytest.fixture
def reviewer(staff_user):
    return staff_user
