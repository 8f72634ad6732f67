"""The staff channel form asks the adapter to judge its settings: bad SMPP settings are refused
on the form, not discovered later by the connector."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from messaging.forms import ChannelForm
from messaging.models import Channel
from messaging.services import channel_save
from smsportal.errors import Unprocessable
from smsportal.factories.smpp import SmppChannelFactory, smpp_settings


def form_data(settings: dict | str, **overrides) -> dict:
    data = {
        "name": "移动直连",
        "adapter": "smpp",
        "rate_limit": 100,
        "batch_size": 100,
        "cost_per_message": "0.03",
        "weight": 10,
        "receipt_timeout_seconds": 600,
        "enabled": "on",
        "carriers": ["mobile"],
        "message_classes": ["verification", "marketing"],
        "settings_json": settings if isinstance(settings, str) else json.dumps(settings),
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"host": ""}, "host"),
        ({"port": 70000}, "port"),
        ({"port": "abc"}, "port"),
        ({"system_id": "x" * 16}, "system_id"),
        ({"password": "", "password_env": ""}, "password"),
        ({"password": "123456789"}, "password"),
        ({"tls": "yes"}, "tls"),
        ({"window": 0}, "window"),
        ({"window": 1000}, "window"),
        ({"binds": 17}, "binds"),
        ({"data_coding": "latin1"}, "data_coding"),
        ({"bind_mode": "receiver"}, "bind_mode"),
        ({"concatenation": "udh16"}, "concatenation"),
        ({"error_map": {"UNDELIV:001": "nonsense"}}, "error_map"),
        ({"extensions": {"1": "01", "2": "01"}}, "extensions"),
        ({"throughput": 100}, None),  # unknown setting: the rate limit is the channel's own field
    ],
)
def test_form_refuses_bad_smpp_settings_through_the_adapter(db, override, field):
    form = ChannelForm(form_data({**smpp_settings(2775), **override}))
    assert not form.is_valid()
    errors = form.errors["settings_json"]
    if field is None:
        assert any("Unknown settings" in e or "未知" in e for e in errors)
    else:
        assert any(e.startswith(f"{field}: ") for e in errors), errors


def test_form_accepts_good_smpp_settings_and_other_adapters_are_not_judged(db):
    assert ChannelForm(form_data(smpp_settings(2775, window=64, binds=4, tls=True))).is_valid()
    assert ChannelForm(form_data('{"anything": 1}', adapter="simulated")).is_valid()
    empty = ChannelForm(form_data("", adapter="smpp"))
    assert not empty.is_valid()
    assert {e.split(":")[0] for e in empty.errors["settings_json"]} >= {"host", "system_id", "password"}


def test_editing_keeps_the_masked_password_and_validates_the_merged_settings(db):
    channel = SmppChannelFactory(settings=smpp_settings(2775, password="abcdefgh"))
    form = ChannelForm(instance=channel)
    shown = json.loads(form.fields["settings_json"].initial)
    assert shown["password"] == "ab****gh"
    # unchanged masked password: still valid (the stored one is what gets judged and kept)
    assert ChannelForm(form_data(shown, name=channel.name), instance=channel).is_valid()
    # blank password on edit: the stored one is kept, so this is valid too
    assert ChannelForm(form_data({**shown, "password": ""}, name=channel.name), instance=channel).is_valid()
    bad = ChannelForm(form_data({**shown, "window": 999}, name=channel.name), instance=channel)
    assert not bad.is_valid() and any(e.startswith("window: ") for e in bad.errors["settings_json"])


def test_staff_page_shows_adapter_errors_and_saves_nothing(staff_client):
    response = staff_client.post(
        reverse("messaging_staff:channel_create"),
        form_data(smpp_settings(99999, window=0, tls="maybe", system_id="")),
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "port: " in page and "window: " in page and "tls: " in page and "system_id: " in page
    assert not Channel.objects.filter(name="移动直连").exists()


def test_staff_page_saves_good_smpp_settings_and_edit_keeps_the_password(staff_client):
    response = staff_client.post(reverse("messaging_staff:channel_create"), form_data(smpp_settings(2775, binds=4)))
    assert response.status_code == 302
    channel = Channel.objects.get(name="移动直连")
    assert channel.settings["binds"] == 4 and channel.settings["password"] == "secret"
    page = staff_client.get(reverse("messaging_staff:channel", args=[channel.pk])).content.decode()
    assert '"secret"' not in page
    shown = {**smpp_settings(2775, binds=4), "password": "se****et", "window": 64}
    response = staff_client.post(reverse("messaging_staff:channel", args=[channel.pk]), form_data(shown))
    assert response.status_code == 302
    channel.refresh_from_db()
    assert channel.settings["password"] == "secret" and channel.settings["window"] == 64
    bad = staff_client.post(reverse("messaging_staff:channel", args=[channel.pk]), form_data({**shown, "port": 0}))
    assert bad.status_code == 200 and "port: " in bad.content.decode()
    channel.refresh_from_db()
    assert channel.settings["port"] == 2775


def test_non_staff_cannot_reach_the_channel_form(member_client, outsider_client):
    for client in (member_client, outsider_client):
        response = client.post(reverse("messaging_staff:channel_create"), form_data(smpp_settings(2775)))
        assert response.status_code == 404
    assert not Channel.objects.filter(name="移动直连").exists()


def test_the_service_refuses_bad_settings_too(staff_user):
    with pytest.raises(Unprocessable) as refused:
        channel_save(
            actor=staff_user,
            values={"name": "x", "adapter": "smpp", "carriers": ["mobile"], "message_classes": ["alert"]},
            settings=smpp_settings(2775, window=0),
        )
    assert "window" in refused.value.fields
    assert not Channel.objects.filter(name="x").exists()
