"""Jobs through the interfaces users use: the API, the admin pages and the progress JSON."""
from __future__ import annotations

import time
import uuid

import pytest
import sqlalchemy as sa
from flask import current_app

from core.db import db
from core.models import Job, ModuleOverride
from tests.conftest import web_login
from tests.core.jobs_plugin import jclient, jctx, jmake, jobs_app  # noqa: F401 (fixtures)


def runner():
    return current_app.extensions["federa"].jobs


@pytest.fixture
def world(jmake):
    fed = jmake.federation()
    club = jmake.club(fed, "KV Demo")
    other = jmake.club(fed, "KV Anders")
    for org in (club, other):
        db.session.add(ModuleOverride(org_id=org.id, plugin="jobsdemo", enabled=True))
    db.session.commit()
    admin = jmake.user("admin@club.be", role="club_admin", org=club)
    stranger = jmake.user("admin@anders.be", role="club_admin", org=other, password=None)  # API only: no hash
    member = jmake.user("lid@club.be", role="member", org=club)
    secretariat = jmake.user("sec@fed.be", role="federation_secretariat", org=fed, password=None)
    return {"fed": fed, "club": club, "other": other, "admin": admin, "stranger": stranger, "member": member,
            "secretariat": secretariat}


def make_job(org, created_by=None, status="queued", title="Import", **fields) -> Job:
    job = Job(id=str(uuid.uuid4()), org_id=org.id if org else None, plugin="jobsdemo", actor="jobsdemo.count",
              title=title, status=status, created_by_id=created_by.id if created_by else None, **fields)
    db.session.add(job)
    db.session.commit()
    return job


# --- API ------------------------------------------------------------------------------------------

def test_start_a_job_through_the_api_and_follow_it(jclient, jmake, world):
    headers = jmake.headers(world["admin"])
    club = world["club"]
    r = jclient.post(f"/api/v1/orgs/{club.id}/jobsdemo/count", json={"n": 4}, headers=headers)
    assert r.status_code == 202, r.json
    job_id = r.json["job_id"]
    r = jclient.get(f"/api/v1/jobs/{job_id}", headers=headers)
    assert r.status_code == 200
    assert r.json["status"] == "queued" and r.json["percent"] == 0
    runner().join()
    r = jclient.get(f"/api/v1/jobs/{job_id}", headers=headers)
    assert r.json["status"] == "done", r.json
    assert (r.json["progress"], r.json["total"], r.json["percent"]) == (4, 4, 100)
    assert r.json["result"] == {"counted": 4}
    assert r.json["created_at"] and r.json["finished_at"]
    assert r.json["created_by_id"] == world["admin"].id


def test_in_process_worker_threads_start_by_themselves(jclient, jmake, world):
    """What `federa serve` relies on: no join(), the first message starts the worker threads."""
    current_app.config["JOBS_INPROCESS_AUTOSTART"] = True
    try:
        headers = jmake.headers(world["admin"])
        r = jclient.post(f"/api/v1/orgs/{world['club'].id}/jobsdemo/count", json={"n": 2}, headers=headers)
        job_id = r.json["job_id"]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            status = jclient.get(f"/api/v1/jobs/{job_id}", headers=headers).json["status"]
            if status == "done":
                break
            time.sleep(0.02)
        assert status == "done"
    finally:
        current_app.config["JOBS_INPROCESS_AUTOSTART"] = False


def test_idempotency_key_header_returns_the_same_job(jclient, jmake, world):
    headers = {**jmake.headers(world["admin"]), "Idempotency-Key": "count-1"}
    url = f"/api/v1/orgs/{world['club'].id}/jobsdemo/count"
    first = jclient.post(url, json={"n": 1}, headers=headers).json["job_id"]
    second = jclient.post(url, json={"n": 1}, headers=headers).json["job_id"]
    assert first == second
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Job)) == 1


def test_starting_a_job_of_a_module_that_is_off_is_404(jclient, jmake, world):
    club = world["club"]
    db.session.execute(sa.update(ModuleOverride).where(ModuleOverride.org_id == club.id).values(enabled=False))
    db.session.commit()
    r = jclient.post(f"/api/v1/orgs/{club.id}/jobsdemo/count", json={"n": 1}, headers=jmake.headers(world["admin"]))
    assert r.status_code == 404
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Job)) == 0


def test_who_may_follow_a_job(jclient, jmake, world):
    job = make_job(world["club"], created_by=world["member"])
    url = f"/api/v1/jobs/{job.id}"
    assert jclient.get(url).status_code == 401
    assert jclient.get(url, headers=jmake.headers(world["member"])).status_code == 200  # its starter
    assert jclient.get(url, headers=jmake.headers(world["admin"])).status_code == 200  # core.jobs.read on the club
    assert jclient.get(url, headers=jmake.headers(world["secretariat"])).status_code == 200  # on an ancestor
    r = jclient.get(url, headers=jmake.headers(world["stranger"]))  # admin of another club
    assert r.status_code == 404 and r.json["code"] == 404
    assert jclient.get(f"/api/v1/jobs/{uuid.uuid4()}", headers=jmake.headers(world["admin"])).status_code == 404
    own = make_job(None, created_by=world["admin"], title="Mine")
    assert jclient.get(f"/api/v1/jobs/{own.id}", headers=jmake.headers(world["admin"])).status_code == 200
    assert jclient.get(f"/api/v1/jobs/{own.id}", headers=jmake.headers(world["secretariat"])).status_code == 404


def test_list_an_organisations_jobs(jclient, jmake, world):
    club, other, fed = world["club"], world["other"], world["fed"]
    make_job(club, status="done", title="A")
    make_job(club, status="failed", title="B")
    make_job(other, status="done", title="C")
    headers = jmake.headers(world["admin"])
    r = jclient.get(f"/api/v1/orgs/{club.id}/jobs", headers=headers)
    assert r.status_code == 200
    assert r.json["total"] == 2 and {j["title"] for j in r.json["items"]} == {"A", "B"}
    r = jclient.get(f"/api/v1/orgs/{club.id}/jobs?status=failed&page_size=1", headers=headers)
    assert [j["title"] for j in r.json["items"]] == ["B"] and r.json["page_size"] == 1
    sec = jmake.headers(world["secretariat"])
    assert jclient.get(f"/api/v1/orgs/{fed.id}/jobs", headers=sec).json["total"] == 0
    assert jclient.get(f"/api/v1/orgs/{fed.id}/jobs?include_descendants=true", headers=sec).json["total"] == 3


def test_job_list_bad_input_and_foreign_organisations(jclient, jmake, world):
    club, other = world["club"], world["other"]
    headers = jmake.headers(world["admin"])
    r = jclient.get(f"/api/v1/orgs/{club.id}/jobs?status=exploded", headers=headers)
    assert r.status_code == 422 and "status" in r.json["errors"]["query"]
    assert jclient.get(f"/api/v1/orgs/{other.id}/jobs", headers=headers).status_code == 404
    assert jclient.get(f"/api/v1/orgs/{club.id}/jobs", headers=jmake.headers(world["member"])).status_code == 403


# --- admin pages ------------------------------------------------------------------------------------

def test_jobs_page_lists_jobs_with_badges_and_progress(jclient, world):
    club = world["club"]
    running = make_job(club, status="running", title="Leden importeren", progress=30, total=120)
    make_job(club, status="done", title="Facturen maken")
    make_job(world["other"], status="done", title="Elders")
    web_login(jclient, "admin@club.be")
    r = jclient.get(f"/o/{club.id}/jobs")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "Leden importeren" in html and "Facturen maken" in html and "Elders" not in html
    assert f'data-job-url="/o/{club.id}/jobs/{running.id}.json"' in html
    assert 'style="width:25%"' in html
    assert "badge-ok" in html
    r = jclient.get(f"/o/{club.id}/jobs?status=done")
    assert "Facturen maken" in r.get_data(as_text=True) and "Leden importeren" not in r.get_data(as_text=True)
    assert jclient.get(f"/o/{club.id}/jobs?status=exploded").status_code == 400


def test_job_page_and_its_progress_json(jclient, world):
    club = world["club"]
    job = make_job(club, status="running", title="Leden importeren", progress=1, total=4, message="1 of 4")
    web_login(jclient, "admin@club.be")
    r = jclient.get(f"/o/{club.id}/jobs/{job.id}")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "Leden importeren" in html and f"/o/{club.id}/jobs/{job.id}.json" in html
    r = jclient.get(f"/o/{club.id}/jobs/{job.id}.json")
    assert r.status_code == 200
    assert r.json == {"status": "running", "percent": 25, "progress": 1, "total": 4, "message": "1 of 4"}


def test_job_pages_hide_other_organisations_jobs(jclient, jmake, world):
    club, other = world["club"], world["other"]
    foreign = make_job(other, status="running")
    web_login(jclient, "admin@club.be")
    # another club's job through my club's URL, and through the other club's URL
    assert jclient.get(f"/o/{club.id}/jobs/{foreign.id}").status_code == 404
    assert jclient.get(f"/o/{club.id}/jobs/{foreign.id}.json").status_code == 404
    assert jclient.get(f"/o/{other.id}/jobs/{foreign.id}").status_code == 404
    assert jclient.get(f"/o/{other.id}/jobs").status_code == 404
    assert jclient.get(f"/o/{club.id}/jobs/not-a-job").status_code == 404


def test_jobs_page_needs_the_permission_and_a_login(jclient, world):
    club = world["club"]
    r = jclient.get(f"/o/{club.id}/jobs")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    web_login(jclient, "lid@club.be")
    assert jclient.get(f"/o/{club.id}/jobs").status_code == 403
    own = make_job(club, created_by=world["member"], status="queued")
    # a member follows the job they started, though they cannot list the club's jobs
    assert jclient.get(f"/o/{club.id}/jobs/{own.id}.json").status_code == 200
