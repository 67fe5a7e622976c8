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


def test_openapi_documents_auth_and_roles(client):
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    paths = r.json["paths"]
    for path in ("/api/v1/auth/token", "/api/v1/me", "/api/v1/permissions", "/api/v1/orgs/{org_id}/roles",
                 "/api/v1/orgs/{org_id}/roles/{role_id}", "/api/v1/orgs/{org_id}/assignments",
                 "/api/v1/orgs/{org_id}/assignments/{assignment_id}"):
        assert path in paths, path
    patch = paths["/api/v1/orgs/{org_id}/roles/{role_id}"]["patch"]["responses"]
    assert {"401", "403", "412", "428"} <= set(patch)
    schemas = r.json["components"]["schemas"]
    assert "RoleAssignment" in schemas and "MeAssignment" in schemas
