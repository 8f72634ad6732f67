import pytest


@pytest.fixture(autouse=True)
def private_media(request, settings, tmp_path):
    # Browser tests share uploads with a real worker process, which reads the configured
    # MEDIA_ROOT; everything else keeps its files in a temporary directory.
    if request.node.get_closest_marker("browser") is None:
        settings.MEDIA_ROOT = tmp_path / "media"
