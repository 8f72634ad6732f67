from __future__ import annotations

import factory

from campaigns.models import Contact, ContactList
from smsportal.enums import MessageClass
from smsportal.factories.tenants import TenantFactory
from smsportal.numbers import normalize


class ContactListFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContactList

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"会员名单{n}")
    fields = factory.LazyFunction(lambda: ["name", "points"])


def add_contacts(contact_list: ContactList, rows: list[tuple[str, dict]]) -> list[Contact]:
    """rows: (raw number, attributes). Normalised like the importer does."""
    contacts = []
    for raw, attributes in rows:
        number = normalize(raw)
        contacts.append(
            Contact(
                tenant_id=contact_list.tenant_id,
                contact_list=contact_list,
                number=number.e164,
                carrier=number.carrier,
                province=number.province,
                attributes=attributes,
            )
        )
    Contact.objects.bulk_create(contacts)
    ContactList.objects.filter(pk=contact_list.pk).update(
        contact_count=Contact.objects.filter(contact_list=contact_list).count()
    )
    return contacts


def sample_numbers(count: int, start: int = 0) -> list[str]:
    """Valid numbers spread over carriers (China Mobile 138, Unicom 130, Telecom 189)."""
    prefixes = ["138", "130", "189"]
    return [f"{prefixes[i % 3]}{(start + i):08d}" for i in range(count)]


MARKETING_BODY = (
    "尊敬的${name}，您有${points}积分即将到期，双11会员日积分抵现，详情 https://hm.example.cn/${link} 回T退订"
)
MARKETING_VARIABLES = [
    {"name": "name", "type": "text", "max_length": 20, "example": "张三"},
    {"name": "points", "type": "number", "max_length": 8, "example": "120"},
    {"name": "link", "type": "link", "max_length": 40, "example": "s/abc"},
]


def marketing_template(tenant, *, balance="1000", body=MARKETING_BODY, variables=None):
    """An approved marketing template with name/points/link variables, money on the account."""
    from smsportal.factories.messaging import ready_to_send

    return ready_to_send(
        tenant,
        kind=MessageClass.MARKETING,
        balance=balance,
        body=body,
        variables=MARKETING_VARIABLES if variables is None else variables,
    )


def grant_consent(tenant, numbers: list[str]) -> None:
    from smsportal.factories.compliance import ConsentRecordFactory

    for raw in numbers:
        ConsentRecordFactory(tenant=tenant, number=normalize(raw).e164)


def started_campaign(member, template, contact_list, **options):
    """A campaign on `contact_list` with a tracked link, reviewed and started by `member`
    (the product's own services); returns (campaign, the review)."""
    from campaigns import services

    campaign = services.campaign_save(
        tenant=member.tenant,
        actor=member.user,
        name="双11",
        template_id=template.pk,
        list_ids=[contact_list.pk],
        link_variable="link",
        link_url="https://hm.example.cn/double11",
        respect_quiet_hours=False,
        **options,
    )
    review = services.campaign_review(tenant=member.tenant, actor=member.user, campaign=campaign)
    services.campaign_start(tenant=member.tenant, actor=member.user, campaign=campaign)
    return campaign, review
