"""Campaign benchmarks: contact import and fan-out (wired into `make bench` by smsportal.bench)."""

from __future__ import annotations

import datetime as dt
import random
import tempfile
import time
from pathlib import Path

from django.core.files import File
from django.utils import timezone

from smsportal.bench import Figure, Scenario, peak_memory_mib

CARRIER_PREFIXES = ["138", "139", "150", "186", "133", "189", "198", "166", "177", "192", "135", "130", "180", "147"]


def _bench_tenant(slug: str):
    from tenants.models import Tenant

    tenant, _created = Tenant.objects.get_or_create(
        slug=slug, defaults={"name": "压测企业", "contact_name": "bench", "contact_email": "bench@example.com"}
    )
    return tenant


def _bench_user(staff: bool = False):
    from tenants.models import User

    return User.objects.create_user(f"bench-{time.time_ns()}@example.com", is_staff=staff)


def write_contacts_csv(path: Path, rows: int, seed: int = 11) -> None:
    """A realistic member export: GBK-free UTF-8, 1% invalid, 2% duplicates, two attributes."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("手机号,姓名,积分\n")
        previous = []
        for i in range(rows):
            roll = rng.random()
            if roll < 0.01:
                number = f"1{rng.randrange(10**6)}"
            elif roll < 0.03 and previous:
                number = rng.choice(previous)
            else:
                number = f"{rng.choice(CARRIER_PREFIXES)}{rng.randrange(10**8):08d}"
                if len(previous) < 1000:
                    previous.append(number)
            out.write(f"{number},会员{i},{rng.randrange(5000)}\n")


def import_contacts(size: dict, progress) -> list[Figure]:
    from campaigns.models import ContactImport, ContactList
    from campaigns.services import contact_import_run

    rows = size["rows"]
    tenant = _bench_tenant("bench-campaigns")
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "contacts.csv"
        progress(f"campaigns: writing a {rows:,}-row contact CSV")
        write_contacts_csv(path, rows)
        contact_list = ContactList.objects.create(tenant=tenant, name=f"bench {time.time()}")
        with path.open("rb") as handle:
            contact_import = ContactImport(
                tenant=tenant,
                contact_list=contact_list,
                original_name="contacts.csv",
                file_format="csv",
                size_bytes=path.stat().st_size,
            )
            contact_import.file.save("bench-contacts.csv", File(handle), save=True)
        progress(f"campaigns: importing {rows:,} rows")
        started = time.perf_counter()
        done = contact_import_run(contact_import_id=contact_import.pk)
        elapsed = time.perf_counter() - started
        contact_import.file.delete(save=False)
    target = 60 * rows / 1_000_000
    return [
        Figure(
            scenario=f"contact import, {rows:,} CSV rows → contacts",
            value=round(elapsed, 2),
            unit="s",
            target=f"≤ {target:.0f} s (60 s per 1,000,000)",
            met=done.status == "done" and elapsed <= target,
            notes=f"{done.imported:,} imported, {done.duplicates:,} merged, {done.invalid:,} invalid; "
            f"{rows / elapsed:,.0f} rows/s",
        ),
        Figure(
            scenario="campaigns worker peak memory after import",
            value=round(peak_memory_mib(), 1),
            unit="MiB",
            target="≤ 500 MB",
            met=peak_memory_mib() <= 500,
        ),
    ]


SCENARIOS = [Scenario("campaigns.import", import_contacts)]


def _fanout_world(rows: int):
    """A tenant with `rows` contacts in one list (numbers spread over three carriers), all with
    marketing consent, an approved marketing template and enough money."""
    from django.db import connection

    from campaigns.models import ContactList
    from smsportal.factories.billing import fund
    from smsportal.factories.campaigns import marketing_template

    tenant = _bench_tenant(f"bench-fanout-{int(time.time())}")
    fund(tenant, str(rows), actor=_bench_user(staff=True))
    template = marketing_template(tenant, balance="")
    contact_list = ContactList.objects.create(tenant=tenant, name="bench fan-out", fields=["name", "points"])
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO campaigns_contact (tenant_id, contact_list_id, number, carrier, province, attributes,
                                              created_at, updated_at)
               SELECT %s, %s, '+86' || (ARRAY['138','130','189'])[1 + i %% 3] || lpad(i::text, 8, '0'),
                      (ARRAY['mobile','unicom','telecom'])[1 + i %% 3], '广东省',
                      jsonb_build_object('name', '会员' || i, 'points', (i %% 5000)::text), now(), now()
                 FROM generate_series(1, %s) AS i""",
            [tenant.pk, contact_list.pk, rows],
        )
        cursor.execute(
            """INSERT INTO compliance_consentrecord (tenant_id, created_at, updated_at, number, carrier, province,
                   purpose, action, occurred_at, source, evidence_text, evidence_url, evidence_file,
                   recorded_by_label)
               SELECT tenant_id, now(), now(), number, carrier, province, 'marketing', 'grant',
                      now() - interval '1 day', 'web_form', 'bench', '', '', 'bench'
                 FROM campaigns_contact WHERE contact_list_id = %s""",
            [contact_list.pk],
        )
        cursor.execute("ANALYZE campaigns_contact")
        cursor.execute("ANALYZE compliance_consentrecord")
    ContactList.objects.filter(pk=contact_list.pk).update(contact_count=rows)
    return tenant, template, contact_list


def fan_out(size: dict, progress) -> list[Figure]:
    from campaigns import fanout, services
    from campaigns.models import Campaign

    rows = size["rows"]
    progress(f"campaigns: preparing {rows:,} contacts with consent")
    tenant, template, contact_list = _fanout_world(rows)
    actor = _bench_user()
    campaign = services.campaign_save(
        tenant=tenant,
        actor=actor,
        name="bench 双11",
        template_id=template.pk,
        list_ids=[contact_list.pk],
        link_variable="link",
        link_url="https://hm.example.cn/d11",
        respect_quiet_hours=False,
    )
    progress("campaigns: review (materialise the audience, gates per chunk, segments, cost)")
    started = time.perf_counter()
    review = services.campaign_review(tenant=tenant, actor=actor, campaign=campaign)
    review_seconds = time.perf_counter() - started
    services.campaign_start(tenant=tenant, actor=actor, campaign=campaign)
    progress(f"campaigns: fan-out of {review['messages']:,} messages")
    started = time.perf_counter()
    queued = fanout.campaign_fanout_run(campaign_id=campaign.pk)
    fanout_seconds = time.perf_counter() - started
    progress("campaigns: pause (effective at commit), then the background parking of the queue")
    campaign.refresh_from_db()
    started = time.perf_counter()
    services.campaign_pause(tenant=tenant, actor=actor, campaign=Campaign.objects.get(pk=campaign.pk))
    pause_seconds = time.perf_counter() - started
    from messaging.dispatch import claim

    leaked = len(claim("bulk", 1000, now=timezone.now() + dt.timedelta(days=1)))  # a dispatcher right after
    started = time.perf_counter()
    parked = services.campaign_hold_rest(campaign_id=campaign.pk)
    park_seconds = time.perf_counter() - started
    target = 20 * rows / 1_000_000
    return [
        Figure(
            scenario=f"campaign review, {rows:,} recipients (audience materialised, gates, segments, cost)",
            value=round(review_seconds, 2),
            unit="s",
            notes=f"{review['audience']:,} recipients, {review['messages']:,} to send",
        ),
        Figure(
            scenario=f"campaign fan-out, {rows:,} recipients → queued messages (reserved)",
            value=round(fanout_seconds, 2),
            unit="s",
            target=f"≤ {target:.0f} s (20 s per 1,000,000)",
            met=queued == review["messages"] and fanout_seconds <= target,
            ceiling="",
            notes=f"{queued:,} queued, {queued / fanout_seconds:,.0f} messages/s",
        ),
        Figure(
            scenario=f"campaign pause with {queued:,} queued: effective (no more claimed)",
            value=round(pause_seconds, 3),
            unit="s",
            target="≤ 2 s",
            met=pause_seconds <= 2 and leaked == 0,
            notes=f"a send hold the claim checks; {leaked} claimed by a dispatcher right after",
        ),
        Figure(
            scenario="campaign pause: queue parked in the background (resume re-paces from it)",
            value=round(park_seconds, 2),
            unit="s",
            notes=f"{parked:,} messages",
        ),
        Figure(
            scenario="campaigns worker peak memory after fan-out",
            value=round(peak_memory_mib(), 1),
            unit="MiB",
            target="≤ 500 MB",
            met=peak_memory_mib() <= 500,
        ),
    ]


SCENARIOS.append(Scenario("campaigns.fanout", fan_out))
