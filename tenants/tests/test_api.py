def test_me_returns_the_keys_tenant(member, api_for):
    response = api_for(member).get("/api/v1/me")
    assert response.status_code == 200
    assert response.json()["tenant"]["slug"] == member.tenant.slug


def test_me_without_key_is_401_with_code(client, db):
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "missing_api_key"
