from __future__ import annotations

import factory
from allauth.account.models import EmailAddress

from tenants import services
from tenants.models import Membership, Role, Tenant, User

DEFAULT_PASSWORD = "correct-horse-battery-9"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    full_name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", DEFAULT_PASSWORD)

    @factory.post_generation
    def verified(self, create, extracted, **kwargs):
        if create:
            self.save()
            EmailAddress.objects.get_or_create(
                user=self, email=self.email, defaults={"verified": True, "primary": True}
            )


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant

    name = factory.Sequence(lambda n: f"企业{n}有限公司")
    slug = factory.Sequence(lambda n: f"tenant-{n}")
    contact_name = "张三"
    contact_email = factory.Sequence(lambda n: f"contact{n}@example.com")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    tenant = factory.SubFactory(TenantFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.OWNER


class ApiKeyFactory:
    """Keys need their raw secret back, so they go through the service."""

    @staticmethod
    def create(*, membership: Membership, scopes=("send", "read", "manage"), name="test key"):
        return services.apikey_create(tenant=membership.tenant, actor=membership.user, name=name, scopes=list(scopes))


def api_key_for(membership: Membership, scopes=("send", "read", "manage")) -> str:
    return ApiKeyFactory.create(membership=membership, scopes=scopes)[1]
