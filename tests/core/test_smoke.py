def test_token_and_me(client, make):
    fed = make.federation()
    club = make.club(fed)
    user = make.user("clubadmin@example.org", role="club_admin", org=club)
    r = client.post("/api/v1/auth/token", json={"email": "clubadmin@example.org", "password": "secret-pass"})
    assert r.status_code == 201, r.json
    token = r.json["access_token"]
    r = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.json
    assert r.json["assignments"][0]["role"] == "club_admin"
    assert r.json["assignments"][0]["org_id"] == club.id
