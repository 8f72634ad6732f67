from decimal import Decimal

from django.utils import translation

from reports.advice import AdviceInput, AudienceQuality, HourQuality, TemplateUsage, generate


def fine_data(**overrides) -> AdviceInput:
    data = AdviceInput(
        unit_price=Decimal("0.13"),
        templates=[TemplateUsage(1, "会员日", "【华美零售】" + "好" * 50, "UCS-2", 56, 1, 5000)],
        audiences=[AudienceQuality("双十一", 5000, 20)],
        hours=[HourQuality(h, 1000, 0.97, 0.99) for h in range(24)],
        carriers=[("中国移动", 5000, 0.991), ("中国联通", 3000, 0.985)],
        key_regions=[("北京市", 2000, 0.995)],
        blacklisted=10,
        finished=8000,
        marketing_total=4000,
        marketing_near_quiet=100,
    )
    for key, value in overrides.items():
        setattr(data, key, value)
    return data


def rules(data):
    return [advice.rule for advice in generate(data)]


def test_fine_data_gives_no_advice():
    assert generate(fine_data()) == []


def test_template_two_characters_over_a_segment():
    # 72 UCS-2 characters: 2 segments; cutting 2 gives 1 (70). 3,000 delivered × ¥0.13 saved.
    template = TemplateUsage(7, "周年庆", "x" * 72, "UCS-2", 72, 2, 3000)
    with translation.override("en"):
        advice = generate(fine_data(templates=[template]))
    assert [a.rule for a in advice] == ["template_extra_segment"]
    assert advice[0].saving == Decimal("390.00")
    assert "by 2 characters" in str(advice[0].title)


def test_template_far_over_the_boundary_is_not_flagged():
    template = TemplateUsage(7, "长通知", "x" * 120, "UCS-2", 120, 2, 3000)
    assert rules(fine_data(templates=[template])) == []


def test_three_part_template_just_over_two_parts():
    # UCS-2 2 parts hold 134; 137 is 3 parts → cut 3.
    template = TemplateUsage(8, "物流", "x" * 137, "UCS-2", 137, 3, 1000)
    with translation.override("zh-hans"):
        advice = generate(fine_data(templates=[template]))
    assert advice[0].rule == "template_extra_segment"
    assert "缩短 3 个字" in str(advice[0].title)


def test_content_blocked_names_template_and_words():
    template = TemplateUsage(
        9, "促销", "【华美零售】限时秒杀", "UCS-2", 10, 1, 1000, content_blocked=80, blocked_words=["秒杀"]
    )
    advice = generate(fine_data(templates=[template]))
    assert advice[0].rule == "content_blocked"
    assert "秒杀" in str(advice[0].detail)


def test_vacant_numbers_over_three_percent():
    assert rules(fine_data(audiences=[AudienceQuality("老会员", 1000, 50)])) == ["vacant_numbers"]
    assert rules(fine_data(audiences=[AudienceQuality("老会员", 100, 50)])) == []  # too little data


def test_poor_arrival_hours_are_named():
    hours = [HourQuality(h, 1000, 0.97, 0.99) for h in range(24)]
    hours[21] = HourQuality(21, 1000, 0.70, 0.985)
    advice = generate(fine_data(hours=hours))
    assert [a.rule for a in advice] == ["poor_arrival_hours"]
    assert "21:00–22:00" in str(advice[0].title)


def test_marketing_near_quiet_hours():
    assert rules(fine_data(marketing_near_quiet=800)) == ["marketing_near_quiet_hours"]


def test_blacklist_and_benchmarks():
    data = fine_data(blacklisted=200, carriers=[("中国电信", 2000, 0.95)], key_regions=[("上海市", 1000, 0.985)])
    assert set(rules(data)) == {"carrier_blacklist", "carrier_below_benchmark", "key_region_below_benchmark"}
    assert rules(data)[0] == "carrier_blacklist"  # high severity first
