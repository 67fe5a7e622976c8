"""A person's photo: checked, re-encoded without metadata, kept in the file storage."""
from __future__ import annotations

from sqlalchemy.orm import Session

from core.files import ImageError, as_photo, storage
from core.models import Person
from core.services import DomainError

AREA = "photos"


class PhotoTooLarge(DomainError):
    status = 413


def set_photo(session: Session, person: Person, data: bytes) -> Person:
    """Replace the person's photo; the old file goes once the new one is stored."""
    try:
        jpeg = as_photo(data)
    except ImageError as exc:
        raise (PhotoTooLarge if exc.too_large else DomainError)(str(exc), field="photo") from None
    old = person.photo_file
    person.photo_file = storage().save(AREA, jpeg, "jpg")
    session.flush()
    storage().delete(old)
    return person


def remove_photo(session: Session, person: Person) -> None:
    old, person.photo_file = person.photo_file, None
    session.flush()
    storage().delete(old)


def photo_bytes(person: Person) -> bytes | None:
    return storage().read(person.photo_file) if person.photo_file else None
