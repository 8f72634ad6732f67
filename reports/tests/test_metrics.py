import pytest

from reports.metrics import bucket_index, percentile, rate, share_within


def test_bucket_index_bounds_are_inclusive():
    assert bucket_index(0.2) == 0
    assert bucket_index(1.0) == 0
    assert bucket_index(1.01) == 1
    assert bucket_index(60) == 6
    assert bucket_index(61) == 7


def test_percentile_interpolates_inside_the_bucket():
    # 100 deliveries, all between 1 s and 2 s: the median is the middle of that bucket.
    counts = [0, 100, 0, 0, 0, 0, 0, 0]
    assert percentile(counts, 50) == pytest.approx(1.5)
    assert percentile(counts, 99) == pytest.approx(1.99)


def test_percentile_across_buckets():
    counts = [90, 5, 5, 0, 0, 0, 0, 0]  # 90 within 1 s, 5 in (1,2], 5 in (2,3]
    assert percentile(counts, 50) == pytest.approx(50 / 90, abs=1e-3)
    assert percentile(counts, 95) == pytest.approx(2.0)
    assert percentile(counts, 99) == pytest.approx(2.8)


def test_percentile_in_open_bucket_and_empty():
    assert percentile([0, 0, 0, 0, 0, 0, 0, 10], 50) == pytest.approx(90.0)
    assert percentile([0] * 8, 50) is None


def test_share_within_target():
    counts = [50, 20, 20, 5, 5, 0, 0, 0]
    assert share_within(counts, 1) == pytest.approx(0.5)
    assert share_within(counts, 3) == pytest.approx(0.9)
    assert share_within(counts, 5) == pytest.approx(0.95)
    with pytest.raises(ValueError):
        share_within(counts, 4)


def test_rate():
    assert rate(98, 100) == pytest.approx(0.98)
    assert rate(1, 0) is None
