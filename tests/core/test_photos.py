"""A person's photo: uploaded through the API and the person page, checked, stripped of metadata."""
from __future__ import annotations

import io

import pytest
from PIL import Image

from core.db import db
from core.models import AuditLog, Person
from tests.conftest import csrf_token, web_login


def jpeg_with_metadata(size=(1200, 900)) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"
    exif[0x010E] = "Taken at Kerkstraat 1, Gent"  # ImageDescription
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


@pytest.fixture
def world(make):
    fed = make.federation()
    club = make.club(fed)
    other = make.club(fed)
    admin = make.user("photo-admin@example.org", role="club_contact", org=club)
    member = make.person("Mia", "Maes", org=club)
    stranger = make.person("Sam", "Smet", org=other)
    return {"club": club, "admin": admin, "member": member, "stranger": stranger, "headers": make.headers(admin)}


def url(world, person, suffix="photo"):
    return f"/api/v1/orgs/{world['club'].id}/people/{person.id}/{suffix}"


def test_upload_reencodes_without_metadata_and_serves_it(client, world):
    assert Image.open(io.BytesIO(jpeg_with_metadata())).getexif(), "the upload carries metadata"
    response = client.put(url(world, world["member"]), headers=world["headers"],
                          data={"photo": (io.BytesIO(jpeg_with_metadata()), "me.jpg")})
    assert response.status_code == 200, response.json
    assert response.json["has_photo"] is True
    photo = client.get(url(world, world["member"]), headers=world["headers"])
    assert photo.status_code == 200 and photo.mimetype == "image/jpeg"
    image = Image.open(io.BytesIO(photo.data))
    assert max(image.size) == 600
    assert not image.getexif(), "location and camera data are removed"
    assert db.session.query(AuditLog).filter_by(action="view", entity_type="photo").count() == 1


@pytest.mark.parametrize("payload,status", [
    (b"<svg onload=alert(1)>", 422),
    (b"GIF89a not really", 422),
    (b"\xff\xd8" + b"0" * (2 * 1024 * 1024 + 10), 413),
])
def test_bad_files_are_refused_and_nothing_is_stored(client, world, payload, status):
    response = client.put(url(world, world["member"]), headers=world["headers"],
                          data={"photo": (io.BytesIO(payload), "x.jpg")})
    assert response.status_code == status
    assert "photo" in response.json["errors"]["json"]
    assert db.session.get(Person, world["member"].id).photo_file is None


def test_photo_of_a_person_elsewhere_is_404(client, world):
    response = client.put(url(world, world["stranger"]), headers=world["headers"],
                          data={"photo": (io.BytesIO(jpeg_with_metadata()), "x.jpg")})
    assert response.status_code == 404
    assert client.get(url(world, world["stranger"]), headers=world["headers"]).status_code == 404


def test_replace_and_remove_from_the_person_page(client, world):
    web_login(client, "photo-admin@example.org")
    page = f"/o/{world['club'].id}/people/{world['member'].id}"
    token = csrf_token(client, page)
    response = client.post(page + "/photo", data={"csrf_token": token,
                                                  "photo": (io.BytesIO(jpeg_with_metadata((300, 200))), "a.jpg")})
    assert response.status_code == 302
    first = db.session.get(Person, world["member"].id).photo_file
    assert first and 'class="person-photo"' in client.get(page).get_data(as_text=True)
    client.post(page + "/photo", data={"csrf_token": token, "photo": (io.BytesIO(jpeg_with_metadata()), "b.jpg")})
    second = db.session.get(Person, world["member"].id).photo_file
    assert second != first
    from core.files import storage

    assert storage().path_of(first) is None, "the replaced file is deleted"
    client.post(page + "/photo", data={"csrf_token": token, "remove": "1"})
    assert db.session.get(Person, world["member"].id).photo_file is None
    assert storage().path_of(second) is None
    assert client.get(page + "/photo").status_code == 404
