from decimal import Decimal

from django.db import migrations

# The platform default (DESIGN.md, Money): graduated monthly tiers on delivered segments.
DEFAULT_TIERS = [(1, 100_000, "0.1300"), (100_001, 500_000, "0.1100"), (500_001, None, "0.0900")]


def create_default_plan(apps, schema_editor):
    PricePlan = apps.get_model("billing", "PricePlan")
    PriceTier = apps.get_model("billing", "PriceTier")
    if PricePlan.objects.filter(is_default=True).exists():
        return
    plan = PricePlan.objects.create(
        name="标准阶梯价 Standard graduated",
        description="",
        is_default=True,
        rich_message_price=Decimal("0.2000"),
    )
    for first, last, price in DEFAULT_TIERS:
        PriceTier.objects.create(plan=plan, message_class="", first_segment=first, last_segment=last, unit_price=price)


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    operations = [migrations.RunPython(create_default_plan, migrations.RunPython.noop)]
