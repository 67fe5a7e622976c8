import sqlalchemy as sa

from core.db import db
from core.models import AuditLog


def test_writes_are_logged_with_changes(make):
    fed = make.federation("Atletiekfederatie")
    fed.name = "Atletiek Vlaanderen"
    db.session.commit()
    rows = db.session.execute(sa.select(AuditLog).where(AuditLog.entity_type == "organisation")
                              .order_by(AuditLog.id)).scalars().all()
    assert [r.action for r in rows] == ["create", "update"]
    assert rows[0].entity_id == str(fed.id)
    assert rows[1].changes["name"] == ["Atletiekfederatie", "Atletiek Vlaanderen"]
