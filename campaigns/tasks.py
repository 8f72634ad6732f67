"""django-q2 entry points (bulk lane): they take ids and call a service."""

from __future__ import annotations


def contact_import_run(contact_import_id: int) -> None:
    from campaigns.services import contact_import_run as run

    run(contact_import_id=contact_import_id)


def campaign_fanout_run(campaign_id: int) -> int:
    from campaigns.fanout import campaign_fanout_run as run

    return run(campaign_id=campaign_id)


def campaign_hold_rest(campaign_id: int) -> int:
    from campaigns.services import campaign_hold_rest as run

    return run(campaign_id=campaign_id)


def campaign_review_run(campaign_id: int, actor_id: int | None = None) -> None:
    from campaigns.models import Campaign
    from campaigns.services import campaign_review
    from smsportal.errors import ServiceError
    from tenants.models import User

    campaign = Campaign.objects.select_related("tenant").get(pk=campaign_id)
    actor = User.objects.filter(pk=actor_id).first()
    try:
        campaign_review(tenant=campaign.tenant, actor=actor, campaign=campaign)
    except ServiceError as error:
        Campaign.objects.filter(pk=campaign.pk).update(review={"error": str(error.message)})


def campaigns_tick() -> dict:
    from campaigns.services import campaigns_tick as tick

    return tick()


def ensure_schedules() -> None:
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name="campaigns-tick",
        defaults={
            "func": "campaigns.tasks.campaigns_tick",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
            "cluster": "bulk",
        },
    )
