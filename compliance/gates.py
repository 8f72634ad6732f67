"""Accept-time gates: who may not be messaged, answered for a whole batch in a few queries.

Numbers are E.164 strings (normalised by smsportal.numbers before they reach here). Every
query binds the batch as one array parameter (`= ANY(%s)`), so a batch of any size costs
the same number of round trips and never hits PostgreSQL's bind-parameter limit.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone

from compliance.models import (
    ConsentAction,
    ConsentRecord,
    PlatformSuppression,
    Purpose,
    Suppression,
    SuppressionScope,
    TenantComplianceSettings,
)
from smsportal.enums import FailureReason, MessageClass, MessageStatus
from smsportal.sqlarrays import text_array


def marketing_paused(*, tenant) -> bool:
    """True while the tenant's marketing is paused (complaint rate above the threshold)."""
    return TenantComplianceSettings.objects.filter(tenant=tenant, marketing_paused=True).exists()


def _suppressed(*, tenant, numbers: list[str], message_class: str) -> set[str]:
    scopes = [SuppressionScope.ALL.value]
    if message_class == MessageClass.MARKETING:
        scopes.append(SuppressionScope.MARKETING.value)
    sql = f"""
        SELECT number FROM {Suppression._meta.db_table}
         WHERE tenant_id = %s AND removed_at IS NULL AND scope = ANY(%s) AND number = ANY(%s)
        UNION
        SELECT number FROM {PlatformSuppression._meta.db_table}
         WHERE removed_at IS NULL AND scope = ANY(%s) AND number = ANY(%s)
    """  # noqa: S608 (table names from our models; values are bound)
    with connection.cursor() as cursor:
        cursor.execute(sql, [tenant.pk, scopes, numbers, scopes, numbers])
        return {row[0] for row in cursor.fetchall()}


def latest_consent_actions(*, tenant, numbers: list[str], purpose: str) -> dict[str, str]:
    """number → action of its latest consent fact for the purpose (grant / revoke)."""
    sql = f"""
        SELECT DISTINCT ON (number) number, action FROM {ConsentRecord._meta.db_table}
         WHERE tenant_id = %s AND purpose = %s AND number = ANY(%s)
         ORDER BY number, occurred_at DESC, id DESC
    """  # noqa: S608 (table names from our models; values are bound)
    with connection.cursor() as cursor:
        cursor.execute(sql, [tenant.pk, purpose, numbers])
        return dict(cursor.fetchall())


def blocked_numbers(*, tenant, numbers: list[str], message_class: str) -> dict[str, str]:
    """E.164 number → FailureReason value for every number that must not get this class.

    - `suppressed`: on the tenant's or the platform's suppression list with a scope that
      covers the class (scope "marketing" blocks marketing only; "all" blocks everything).
    - `marketing_paused`: marketing while the tenant is paused for its complaint rate.
    - `no_consent`: marketing without an active marketing consent (latest fact is a grant);
      a notification to a number whose latest notification fact is an explicit revocation.
    Verification codes and alerts are only ever stopped by an "all" suppression.
    Numbers not in the result may be sent.
    """
    unique = list(dict.fromkeys(n for n in numbers if n))
    if not unique:
        return {}
    blocked: dict[str, str] = {}
    if message_class == MessageClass.MARKETING:
        if marketing_paused(tenant=tenant):
            blocked = dict.fromkeys(unique, FailureReason.MARKETING_PAUSED.value)
        else:
            latest = latest_consent_actions(tenant=tenant, numbers=unique, purpose=Purpose.MARKETING)
            blocked = {n: FailureReason.NO_CONSENT.value for n in unique if latest.get(n) != ConsentAction.GRANT}
    elif message_class == MessageClass.NOTIFICATION:
        latest = latest_consent_actions(tenant=tenant, numbers=unique, purpose=Purpose.NOTIFICATION)
        blocked = {n: FailureReason.NO_CONSENT.value for n, action in latest.items() if action == ConsentAction.REVOKE}
    # Suppression wins over the other reasons: it is the more specific, more actionable one.
    for number in _suppressed(tenant=tenant, numbers=unique, message_class=message_class):
        blocked[number] = FailureReason.SUPPRESSED.value
    return blocked


def frequency_capped(
    *, tenant, numbers: list[str], message_class: str, template_id: int | None, now: datetime | None = None
) -> set[str]:
    """Numbers that would exceed the tenant's frequency caps with this batch.

    Verification codes: at most N per number per rolling minute / hour / 24 hours, across
    all the tenant's verification messages. Marketing and notifications: at most N per
    number per template per rolling 24 hours. Alerts are not capped. Messages rejected at
    accept time do not count. A number appearing k times in the batch counts k, so a
    batch cannot slip past a cap by repeating a number (all its occurrences are capped).
    A message accepted exactly one window ago has left that window.
    One grouped query over the batch's numbers.
    """
    from compliance.selectors import effective_caps, message_model

    Message = message_model()
    if Message is None or not numbers:
        return set()
    in_batch = Counter(n for n in numbers if n)
    now = now or timezone.now()
    caps = effective_caps(tenant=tenant)
    table = Message._meta.db_table
    if message_class == MessageClass.VERIFICATION:
        limits = [
            (timedelta(minutes=1), caps.code_per_minute),
            (timedelta(hours=1), caps.code_per_hour),
            (timedelta(days=1), caps.code_per_day),
        ]
        template_filter, template_params = "", []
    elif message_class in (MessageClass.MARKETING, MessageClass.NOTIFICATION):
        if template_id is None:
            return set()
        per_day = (
            caps.marketing_per_template_day
            if message_class == MessageClass.MARKETING
            else caps.notification_per_template_day
        )
        limits = [(timedelta(days=1), per_day)]
        template_filter, template_params = "AND template_id = %s", [template_id]
    else:
        return set()
    counts_sql = ", ".join("count(*) FILTER (WHERE accepted_at > %s)" for _ in limits)
    sql = f"""
        SELECT number, {counts_sql} FROM {table}
         WHERE tenant_id = %s AND message_class = %s AND number = ANY(%s) AND accepted_at > %s
           AND status <> %s {template_filter}
         GROUP BY number
    """  # noqa: S608 (fixed fragments and our table name; values are bound)
    params = [now - window for window, _limit in limits]
    params += [tenant.pk, message_class, list(in_batch), now - max(w for w, _l in limits), MessageStatus.REJECTED]
    params += template_params
    existing: dict[str, tuple[int, ...]] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for number, *counts in cursor.fetchall():
            existing[number] = tuple(counts)
    capped = set()
    for number, occurrences in in_batch.items():
        counts = existing.get(number, (0,) * len(limits))
        if any(count + occurrences > limit for count, (_window, limit) in zip(counts, limits, strict=True)):
            capped.add(number)
    return capped


def refusal_sql(
    *, tenant, message_class: str, template_id: int | None, number_sql: str, tenant_sql: str, now: datetime
) -> tuple[str, list]:
    """blocked_numbers and frequency_capped as one SQL expression over `number_sql` (a column
    of a set-based INSERT … SELECT whose numbers are distinct): the FailureReason value that
    refuses that number, or NULL when it may be sent. Index probes per row (consent_latest,
    suppression_one_active, platform_suppression_one_active, msg_tenant_number), no per-number
    round trip. Same rules and precedence as the Python gates: suppression wins, then the
    marketing pause / missing consent, then the frequency caps (counted for numbers that are
    not blocked, each number once in the set).

    `tenant_sql` is a column of the same row holding tenant.pk: probing with it rather than a
    constant keeps the planner on the (tenant, number) indexes even when its statistics
    predate the tenant's rows (a new tenant, a campaign fanning out right now), where a
    constant would make a tenant-only index look just as cheap and walk every message of
    the tenant once per number."""
    from compliance.selectors import cap_sql, message_model

    scopes = [SuppressionScope.ALL.value]
    if message_class == MessageClass.MARKETING:
        scopes.append(SuppressionScope.MARKETING.value)
    branches = [
        (
            f"""EXISTS (SELECT 1 FROM {Suppression._meta.db_table} s
                         WHERE s.tenant_id = {tenant_sql} AND s.number = {number_sql} AND s.removed_at IS NULL
                           AND s.scope = ANY(%s::text[]))
                OR EXISTS (SELECT 1 FROM {PlatformSuppression._meta.db_table} p
                            WHERE p.number = {number_sql} AND p.removed_at IS NULL AND p.scope = ANY(%s::text[]))""",  # noqa: S608
            [text_array(scopes)] * 2,
            FailureReason.SUPPRESSED.value,
        )
    ]
    latest = f"""(SELECT c.action FROM {ConsentRecord._meta.db_table} c
                   WHERE c.tenant_id = {tenant_sql} AND c.number = {number_sql} AND c.purpose = %s
                   ORDER BY c.occurred_at DESC, c.id DESC LIMIT 1)"""  # noqa: S608
    if message_class == MessageClass.MARKETING:
        if marketing_paused(tenant=tenant):
            branches.append(("TRUE", [], FailureReason.MARKETING_PAUSED.value))
        else:
            branches.append(
                (
                    f"{latest} IS DISTINCT FROM %s",
                    [Purpose.MARKETING.value, ConsentAction.GRANT.value],
                    FailureReason.NO_CONSENT.value,
                )
            )
    elif message_class == MessageClass.NOTIFICATION:
        branches.append(
            (
                f"{latest} = %s",
                [Purpose.NOTIFICATION.value, ConsentAction.REVOKE.value],
                FailureReason.NO_CONSENT.value,
            )
        )
    Message = message_model()
    limits: list[tuple[timedelta, str]] = []  # (window, the cap's name)
    template_filter, template_params = "", []
    if message_class == MessageClass.VERIFICATION:
        limits = [
            (timedelta(minutes=1), "code_per_minute"),
            (timedelta(hours=1), "code_per_hour"),
            (timedelta(days=1), "code_per_day"),
        ]
    elif message_class in (MessageClass.MARKETING, MessageClass.NOTIFICATION) and template_id is not None:
        per_day = (
            "marketing_per_template_day" if message_class == MessageClass.MARKETING else "notification_per_template_day"
        )
        limits = [(timedelta(days=1), per_day)]
        template_filter, template_params = "AND m.template_id + 0 = %s", [template_id]
    if Message is not None and limits:
        # Only (tenant, number) may lead the probe: template_id + 0 and a window kept inside
        # the FILTERs stop a planner with stale statistics (a brand-new template, messages
        # newer than the last ANALYZE) from walking the template's or the tenant's latest
        # messages once per number instead.
        # Each cap is read inside the statement (an init plan, once per statement): no round
        # trip of its own on the send path.
        over = " OR ".join(f"count(*) FILTER (WHERE m.accepted_at > %s) + 1 > {cap_sql(name)}" for _, name in limits)
        branches.append(
            (
                f"""(SELECT {over} FROM {Message._meta.db_table} m
                      WHERE m.tenant_id = {tenant_sql} AND m.number = {number_sql} AND m.message_class = %s
                        AND m.status <> %s {template_filter})""",  # noqa: S608
                [value for window, _name in limits for value in (now - window, tenant.pk)]
                + [message_class, MessageStatus.REJECTED]
                + template_params,
                FailureReason.RATE_LIMITED.value,
            )
        )
    sql = "CASE " + " ".join(f"WHEN {condition} THEN %s" for condition, _params, _reason in branches) + " END"
    params = [value for _condition, branch_params, reason in branches for value in (*branch_params, reason)]
    return sql, params
