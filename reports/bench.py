"""Benchmarks of the reporting side: dashboard queries over rollups of many message rows,
and the monthly PDF for a busy tenant (time and peak memory)."""

from __future__ import annotations

import multiprocessing
import resource
import statistics
import time
from datetime import UTC, datetime, timedelta

from django.db import connection

from smsportal.bench import Figure, Scenario

CARRIERS = ["mobile", "unicom", "telecom", "broadnet"]
PROVINCES = [
    "北京市", "天津市", "河北省", "山西省", "内蒙古自治区", "辽宁省", "吉林省", "黑龙江省", "上海市", "江苏省",
    "浙江省", "安徽省", "福建省", "江西省", "山东省", "河南省", "湖北省", "湖南省", "广东省", "广西壮族自治区",
    "海南省", "重庆市", "四川省", "贵州省", "云南省", "西藏自治区", "陕西省", "甘肃省", "青海省",
    "宁夏回族自治区", "新疆维吾尔自治区",
]  # fmt: skip
TEMPLATES = 30  # a busy retailer: codes, order notices, member marketing
CAMPAIGNS = 12
CLASSES = ["verification", "notification", "marketing", "alert"]


def _bench_tenant():
    from tenants.models import Tenant

    tenant, _created = Tenant.objects.get_or_create(
        slug="bench-busy",
        defaults={"name": "压测零售有限公司", "contact_name": "压测", "contact_email": "b@example.com"},
    )
    return tenant


def _templates_and_campaigns(tenant) -> tuple[list[int], list[int]]:
    """The busy tenant's templates and campaigns, so its report has a line for each."""
    from campaigns.models import Campaign
    from smsportal.factories.templates import approved_template

    templates = [
        approved_template(tenant=tenant, kind=CLASSES[i % 4], name=f"模板{i + 1:02d}").pk for i in range(TEMPLATES)
    ]
    campaigns = [
        Campaign.objects.create(tenant=tenant, name=f"会员活动{i + 1:02d}", template_id=templates[2 + 4 * (i % 7)]).pk
        for i in range(CAMPAIGNS)
    ]
    return templates, campaigns


def _insert_messages(
    tenant_id: int, rows: int, end: datetime, templates: list[int] | None = None, campaigns: list[int] | None = None
) -> None:
    """Message-shaped rows spread over 30 days, made by the database itself (fast, no Python loop)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO messaging_message (tenant_id, number, carrier, province, message_class, lane, priority, body,
                segments, status, failure_reason, failure_detail, raw_status, channel_ref, route_reason,
                tried_channel_ids, submit_attempts, client_ref, accepted_at, submitted_at, done_at,
                parts_delivered_mask, parts_failed_mask, created_at, updated_at, template_id, campaign_id)
            SELECT %(tenant)s, '+86138' || lpad((g %% 100000000)::text, 8, '0'),
                   (%(carriers)s::text[])[1 + g %% 4], (%(provinces)s::text[])[1 + g %% %(nprovinces)s],
                   (%(classes)s::text[])[1 + g %% 4], 'bulk', 5, '', 1 + (g %% 7 = 0)::int,
                   CASE WHEN g %% 50 = 0 THEN 'failed' WHEN g %% 97 = 0 THEN 'expired' ELSE 'delivered' END,
                   CASE WHEN g %% 50 = 0 THEN 'vacant_number' ELSE '' END, '', '', '', '', '{}', 1, '',
                   a, a, CASE WHEN g %% 97 = 0 THEN NULL ELSE a + ((g %% 40) / 10.0) * interval '1 second' END,
                   0, 0, a, a,
                   (%(templates)s::bigint[])[1 + g %% greatest(cardinality(%(templates)s::bigint[]), 1)],
                   CASE WHEN g %% 4 = 2 THEN
                       (%(campaigns)s::bigint[])[1 + g %% greatest(cardinality(%(campaigns)s::bigint[]), 1)] END
            FROM (SELECT g, %(end)s::timestamptz - (g %% 2592000) * interval '1 second' AS a
                  FROM generate_series(1, %(rows)s) g) s
            """,
            {
                "tenant": tenant_id,
                "rows": rows,
                "end": end,
                "carriers": CARRIERS,
                "provinces": PROVINCES,
                "nprovinces": len(PROVINCES),
                "classes": CLASSES,
                "templates": templates or [],
                "campaigns": campaigns or [],
            },
        )


def dashboard_scenario(size: dict, progress) -> list[Figure]:
    from reports import selectors
    from reports.rollups import rollup_rebuild

    rows = size["big"]
    tenant = _bench_tenant()
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    progress(f"reports: inserting {rows:,} message rows over 30 days")
    templates, campaigns = _templates_and_campaigns(tenant)
    _insert_messages(tenant.pk, rows, end, templates, campaigns)
    progress("reports: rebuilding rollups")
    started = time.perf_counter()
    hours = rollup_rebuild(start=end - timedelta(days=31), end=end + timedelta(hours=1), tenant_ids=[tenant.pk])
    rebuild_seconds = time.perf_counter() - started
    period = selectors.Period(end - timedelta(days=30), end + timedelta(hours=1))
    timings = []
    progress("reports: timing the 30-day dashboard queries")
    for _ in range(30):
        started = time.perf_counter()
        selectors.totals(tenant=tenant, period=period)
        for dimension in ("carrier", "province", "class", "template", "campaign"):
            selectors.breakdown(tenant=tenant, period=period, dimension=dimension)
        selectors.by_hour_of_day(tenant=tenant, period=period)
        selectors.failures(tenant=tenant, period=period)
        selectors.arrival_by_class(tenant=tenant, period=period)
        timings.append((time.perf_counter() - started) * 1000)
    p95 = statistics.quantiles(timings, n=20)[-1]
    return [
        Figure(
            scenario=f"dashboard 30-day query at {rows:,} message rows, p95",
            value=round(p95, 1),
            unit="ms",
            target="≤ 200 ms",
            met=p95 <= 200,
            notes="all dashboard panels, read from rollups",
        ),
        Figure(
            scenario=f"rollup rebuild of {rows:,} message rows ({hours} tenant-hours)",
            value=round(rows / rebuild_seconds),
            unit="rows/s",
            ceiling="update_from",
            notes="the same statement the incremental refresh runs",
        ),
    ]


def _pdf_child(tenant_id: int, year: int, month: int, queue) -> None:
    from django.db import connections

    connections.close_all()  # the child opens its own connection
    from reports.services import quality_report_generate
    from tenants.models import Tenant

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    report = quality_report_generate(tenant=Tenant.objects.get(pk=tenant_id), year=year, month=month)
    queue.put((time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, before, report.pages))


def pdf_scenario(size: dict, progress) -> list[Figure]:
    tenant = _bench_tenant()
    now = datetime.now(UTC)
    progress("reports: monthly PDF for the busy tenant (in a child process, for its own peak memory)")
    connection.close()
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_pdf_child, args=(tenant.pk, now.year, now.month, queue))
    child.start()
    seconds, peak_kib, _before, pages = queue.get(timeout=600)
    child.join()
    return [
        Figure(
            scenario=f"monthly PDF for a busy tenant ({pages} pages)",
            value=round(seconds, 2),
            unit="s",
            target="≤ 5 s",
            met=seconds <= 5,
        ),
        Figure(
            scenario="monthly PDF peak memory (whole worker process)",
            value=round(peak_kib / 1024, 1),
            unit="MiB",
            target="≤ 500 MB",
            met=peak_kib / 1024 <= 500,
        ),
    ]


SCENARIOS = [Scenario("reports dashboard", dashboard_scenario), Scenario("reports monthly pdf", pdf_scenario)]
