from __future__ import annotations

from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, OrgScoped, intpk


class SampleNote(Base, OrgScoped):
    __tablename__ = "sample_note"

    id: Mapped[intpk]
    person_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("person.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(sa.String(200))
