from django.urls import reverse

from smsportal.factories import UserFactory


def test_healthz_checks_the_database(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_landing_is_chinese_by_default_and_english_on_request(client, db):
    body = client.get("/").content.decode()
    assert 'lang="zh-hans"' in body
    assert "短信准时到达" in body
    assert "Messages that arrive" not in body

    response = client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert response.status_code == 302
    body = client.get("/").content.decode()
    assert 'lang="en"' in body
    assert "Messages that arrive, bills that add up" in body

    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    assert "短信准时到达" in client.get("/").content.decode()


def test_the_language_switch_is_in_the_top_bar(client, member):
    client.force_login(member.user)
    body = client.get("/").content.decode()
    assert f'action="{reverse("set_language")}"' in body
    assert 'value="en"' in body


def test_portal_pages_and_errors_are_translated(member_client):
    body = member_client.get(reverse("tenants:members")).content.decode()
    assert "邀请成员" in body and "所有者" in body


def test_home_for_a_member_shows_the_tenant_and_suggests_two_factor(member_client, member):
    response = member_client.get("/")
    assert response.status_code == 200
    body = response.content.decode()
    assert member.tenant.name in body
    assert 'id="two-factor-hint"' in body

    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    TOTP.activate(member.user, generate_totp_secret())
    assert 'id="two-factor-hint"' not in member_client.get("/").content.decode()


def test_home_sends_staff_without_tenant_to_the_staff_area(staff_client):
    assert staff_client.get("/")["Location"] == reverse("staff:tenants")


def test_home_outsider_sees_only_their_tenant(outsider_client, member):
    body = outsider_client.get("/").content.decode()
    assert member.tenant.name not in body


def test_home_for_a_user_without_tenant(client, db):
    client.force_login(UserFactory())
    assert client.get("/")["Location"] == reverse("tenants:create")
