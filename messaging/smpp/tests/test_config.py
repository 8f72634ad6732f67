import pytest

from messaging.adapters.base import get_adapter, mask_secrets
from messaging.smpp.config import merge_settings, parse_settings, validate_settings
from smsportal.errors import ServiceError
from smsportal.factories.smpp import smpp_settings


def test_good_settings_parse_with_defaults():
    parsed = parse_settings(smpp_settings(2775, extensions={"7": "01"}))
    assert (parsed.bind_mode, parsed.binds, parsed.window, parsed.concatenation) == ("transceiver", 1, 10, "udh")
    assert parsed.source_for(7) == "1069000101" and parsed.source_for(8) == "10690001"
    assert parsed.tenant_for_destination("1069000101") == (7, "01")
    assert parsed.tenant_for_destination("1069000199") == (None, "99")
    assert parsed.destination_for("+8613800138000") == "8613800138000"
    assert "secret" not in repr(parsed)


def test_number_formats():
    national = parse_settings(smpp_settings(1, number_format="national"))
    assert national.destination_for("+8613800138000") == "13800138000" and national.dest_addr_ton == 2
    assert parse_settings(smpp_settings(1, number_format="e164")).destination_for("+8613800138000") == "+8613800138000"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"host": ""}, "host"),
        ({"system_id": "x" * 16}, "system_id"),
        ({"password": "123456789"}, "password"),
        ({"password": ""}, "password"),
        ({"port": 70000}, "port"),
        ({"port": "abc"}, "port"),
        ({"binds": 0}, "binds"),
        ({"window": 1000}, "window"),
        ({"window": True}, "window"),
        ({"bind_mode": "both"}, "bind_mode"),
        ({"concatenation": "udh16"}, "concatenation"),
        ({"data_coding": "latin1"}, "data_coding"),
        ({"extensions": {"abc": "01"}}, "extensions"),
        ({"extensions": {"1": "01", "2": "01"}}, "extensions"),
        ({"error_map": {"UNDELIV:001": "lost_in_space"}}, "error_map"),
        ({"tls": "yes"}, "tls"),
        ({"colour": "blue"}, "settings"),
    ],
)
def test_bad_settings_are_field_errors(change, field):
    settings = {**smpp_settings(2775), **change}
    assert field in validate_settings(settings)
    with pytest.raises(ServiceError) as error:
        parse_settings(settings)
    assert error.value.code == "invalid_settings" and field in error.value.fields


def test_password_from_the_environment_and_write_only_edits(monkeypatch):
    monkeypatch.setenv("SMPP_TEST_PASSWORD", "envpw")
    settings = {**smpp_settings(2775), "password": "", "password_env": "SMPP_TEST_PASSWORD"}
    assert parse_settings(settings).password == "envpw"
    merged = merge_settings(smpp_settings(2775), {"window": 32, "password": ""})
    assert merged["password"] == "secret" and merged["window"] == 32
    assert "secret" not in str(mask_secrets(smpp_settings(2775)))


def test_the_adapter_is_registered_and_deferred():
    adapter = get_adapter("smpp")
    assert adapter.deferred is True
    assert adapter.validate_settings({"host": "x"})["system_id"]
    with pytest.raises(NotImplementedError):
        adapter.submit(None, [])


def test_signature_extensions_are_validated_and_appended():
    settings = smpp_settings(2775, extensions={"1": "01"}, signature_extensions={"9": "3"})
    assert parse_settings(settings).source_for(1, 9) == "10690001013"
    assert parse_settings(settings).tenant_for_destination("10690001013") == (1, "013")
    assert "signature_extensions" in validate_settings({**settings, "signature_extensions": {"x": "1"}})
    too_long = {**settings, "signature_extensions": {"9": "1" * 11}}
    assert "signature_extensions" in validate_settings(too_long)
