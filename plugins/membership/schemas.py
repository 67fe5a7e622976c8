"""Marshmallow schemas of the membership API (component names get the "Membership" prefix)."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from core.api import PageArgs, page_schema
from plugins.membership.services import LIST_STATUSES


class SeasonSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    org_id = ma.fields.Integer(dump_only=True)
    name = ma.fields.String(required=True)
    starts_on = ma.fields.Date(required=True)
    ends_on = ma.fields.Date(required=True)
    cleanup_deadline = ma.fields.Date(allow_none=True, metadata={
        "description": "clubs confirm their clean-up of the member list before this date"})
    current = ma.fields.Boolean(dump_only=True)


class SeasonUpdateSchema(ma.Schema):
    name = ma.fields.String()
    starts_on = ma.fields.Date()
    ends_on = ma.fields.Date()
    cleanup_deadline = ma.fields.Date(allow_none=True)


class TypeSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    org_id = ma.fields.Integer(dump_only=True)
    name = ma.fields.String(required=True)
    price = ma.fields.Decimal(as_string=True, load_default="0", metadata={"description": "per season, in euro"})
    min_age = ma.fields.Integer(allow_none=True)
    max_age = ma.fields.Integer(allow_none=True)
    sporting = ma.fields.Boolean(load_default=True, metadata={
        "description": "counts as an affiliation to the federation (sporting member)"})
    active = ma.fields.Boolean(load_default=True)
    inherited = ma.fields.Boolean(dump_only=True, metadata={"description": "defined by an organisation above"})


class TypeUpdateSchema(ma.Schema):
    name = ma.fields.String()
    price = ma.fields.Decimal(as_string=True)
    min_age = ma.fields.Integer(allow_none=True)
    max_age = ma.fields.Integer(allow_none=True)
    sporting = ma.fields.Boolean()
    active = ma.fields.Boolean()


class MemberPersonSchema(ma.Schema):
    id = ma.fields.Integer()
    first_name = ma.fields.String()
    last_name = ma.fields.String()
    birth_date = ma.fields.Date(allow_none=True)
    gender = ma.fields.String(allow_none=True)
    email = ma.fields.String(allow_none=True)
    postal_code = ma.fields.String(allow_none=True)
    city = ma.fields.String(allow_none=True)


class MembershipSchema(ma.Schema):
    id = ma.fields.Integer()
    org_id = ma.fields.Integer()
    club_name = ma.fields.String()
    person_id = ma.fields.Integer()
    person = ma.fields.Nested(MemberPersonSchema)
    type_id = ma.fields.Integer()
    type_name = ma.fields.String()
    starts_on = ma.fields.Date()
    ends_on = ma.fields.Date(allow_none=True)
    status = ma.fields.String(metadata={"description": "effective status: pending, active or ended"})
    end_reason = ma.fields.String(allow_none=True)
    iban = ma.fields.String(allow_none=True, metadata={"description": "masked without core.people.national_number"})
    transferred_from_id = ma.fields.Integer(allow_none=True)
    updated_at = ma.fields.DateTime()


MemberPageSchema = page_schema(MembershipSchema, "MemberPageSchema")


class MemberListArgsSchema(PageArgs):
    """Member-list filters; also `cf.<key>=value` for custom fields."""

    class Meta:
        unknown = ma.INCLUDE

    q = ma.fields.String(metadata={"description": "free text: name, e-mail, postal code, city"})
    status = ma.fields.String(validate=validate.OneOf(LIST_STATUSES), metadata={"description": "default current"})
    type_id = ma.fields.Integer()
    sporting = ma.fields.Boolean()
    within = ma.fields.Integer(metadata={"description": "a region or club below this organisation"})
    season_id = ma.fields.Integer()
    gender = ma.fields.String()
    age_min = ma.fields.Integer()
    age_max = ma.fields.Integer()
    birth_year = ma.fields.Integer()
    birthday_month = ma.fields.Integer()
    postal_code = ma.fields.String()
    city = ma.fields.String()
    started_from = ma.fields.Date()
    started_to = ma.fields.Date()
    sort = ma.fields.String(metadata={"description": "name, club, type, starts_on, birth_date; - for descending"})


class NewPersonSchema(ma.Schema):
    first_name = ma.fields.String(required=True)
    last_name = ma.fields.String(required=True)
    birth_date = ma.fields.Date(allow_none=True)
    gender = ma.fields.String(allow_none=True)
    national_number = ma.fields.String(allow_none=True)
    email = ma.fields.String(allow_none=True)
    street = ma.fields.String(allow_none=True)
    house_number = ma.fields.String(allow_none=True)
    postal_code = ma.fields.String(allow_none=True)
    city = ma.fields.String(allow_none=True)
    mobile = ma.fields.String(allow_none=True)


class MembershipCreateSchema(ma.Schema):
    person_id = ma.fields.Integer(metadata={"description": "an existing person of this organisation"})
    person = ma.fields.Nested(NewPersonSchema, metadata={"description": "or a new person"})
    confirm_duplicate = ma.fields.Boolean(load_default=False)
    type_id = ma.fields.Integer(required=True)
    starts_on = ma.fields.Date(metadata={"description": "default today"})
    ends_on = ma.fields.Date(allow_none=True)
    status = ma.fields.String(validate=validate.OneOf(("pending", "active")))
    iban = ma.fields.String(allow_none=True)


class MembershipUpdateSchema(ma.Schema):
    type_id = ma.fields.Integer()
    starts_on = ma.fields.Date()
    ends_on = ma.fields.Date(allow_none=True)
    status = ma.fields.String(validate=validate.OneOf(("pending", "active", "ended")))
    end_reason = ma.fields.String(allow_none=True)
    iban = ma.fields.String(allow_none=True)


class BulkSelectionSchema(ma.Schema):
    membership_ids = ma.fields.List(ma.fields.Integer(), metadata={"description": "the checked rows"})
    filter = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Raw(), metadata={
        "description": "or every result of this member-list filter (runs as a job)"})


class EndSchema(BulkSelectionSchema):
    end_date = ma.fields.Date(required=True)
    reason = ma.fields.String(required=True)


class ChangeTypeSchema(ma.Schema):
    membership_ids = ma.fields.List(ma.fields.Integer(), required=True)
    type_id = ma.fields.Integer(required=True)


class BulkResultSchema(ma.Schema):
    ended = ma.fields.Integer()
    changed = ma.fields.Integer()
    skipped = ma.fields.Integer()
    membership_ids = ma.fields.List(ma.fields.Integer())


class JobRefSchema(ma.Schema):
    job_id = ma.fields.String()
    status = ma.fields.String()
    url = ma.fields.String()


class TransferSchema(ma.Schema):
    to_org_id = ma.fields.Integer(required=True)
    date = ma.fields.Date(required=True)
    type_id = ma.fields.Integer(allow_none=True, metadata={"description": "default: the same type"})


class EmailSchema(BulkSelectionSchema):
    subject = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))
    body = ma.fields.String(required=True, validate=validate.Length(min=1, max=20000))


class ImportFormSchema(ma.Schema):
    mapping = ma.fields.String(metadata={"description": 'JSON {"header": "field"}; default: recognised headers'})
    sheet = ma.fields.String()
    dry_run = ma.fields.Boolean(load_default=False)


class ImportFileSchema(ma.Schema):
    file = ma.fields.Raw(metadata={"type": "string", "format": "binary"}, required=True)


class ImportSummarySchema(ma.Schema):
    rows = ma.fields.Integer()
    created_people = ma.fields.Integer()
    updated_people = ma.fields.Integer()
    linked_people = ma.fields.Integer()
    created_memberships = ma.fields.Integer()
    updated_memberships = ma.fields.Integer()
    unchanged = ma.fields.Integer()
    dry_run = ma.fields.Boolean()


class SavedFilterSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    name = ma.fields.String(required=True)
    query = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(), required=True)


class CorrectionSchema(ma.Schema):
    first_name = ma.fields.String()
    last_name = ma.fields.String()
    birth_date = ma.fields.Date()


class OverviewArgsSchema(ma.Schema):
    season_id = ma.fields.Integer()


class ReminderSchema(ma.Schema):
    season_id = ma.fields.Integer()


# --- the sign-up form and applications ------------------------------------------------------------------

class SignupTypeSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    price = ma.fields.Decimal(as_string=True)
    min_age = ma.fields.Integer(allow_none=True)
    max_age = ma.fields.Integer(allow_none=True)


class SignupFormSchema(ma.Schema):
    club_name = ma.fields.String()
    open = ma.fields.Boolean(metadata={"description": "the form takes applications now"})
    waiting_list = ma.fields.Boolean(metadata={"description": "an application sent now goes on the waiting list"})
    fields = ma.fields.List(ma.fields.String(), metadata={"description": "the fields the club asks"})
    required = ma.fields.List(ma.fields.String())
    types = ma.fields.List(ma.fields.Nested(SignupTypeSchema))
    intro = ma.fields.String()
    privacy_url = ma.fields.String()


class ApplicantSchema(ma.Schema):
    """What an applicant tells about themselves (the optional part)."""

    gender = ma.fields.String(allow_none=True)
    phone = ma.fields.String(allow_none=True)
    street = ma.fields.String(allow_none=True)
    house_number = ma.fields.String(allow_none=True)
    box = ma.fields.String(allow_none=True)
    postal_code = ma.fields.String(allow_none=True)
    city = ma.fields.String(allow_none=True)
    country = ma.fields.String(allow_none=True)
    remarks = ma.fields.String(allow_none=True)


class SignupSchema(ApplicantSchema):
    first_name = ma.fields.String(required=True)
    last_name = ma.fields.String(required=True)
    birth_date = ma.fields.Date(required=True)
    email = ma.fields.String(required=True)
    national_number = ma.fields.String(allow_none=True)
    type_id = ma.fields.Integer(allow_none=True, metadata={"description": "one of the form's types"})
    preferred_language = ma.fields.String(validate=validate.OneOf(("nl", "fr", "en")), load_default="nl")
    consent = ma.fields.Boolean(required=True, metadata={
        "description": "the applicant agrees to the club's processing of these data (must be true)"})


class SignupReceivedSchema(ma.Schema):
    status = ma.fields.String(metadata={"description": "new, or waiting (on the waiting list)"})
    already_received = ma.fields.Boolean(metadata={"description": "the same application was sent before"})


class ApplicationSchema(ApplicantSchema):
    """An application; its copy of the applicant's data is empty once accepted (the person has it)."""

    id = ma.fields.Integer()
    status = ma.fields.String()
    type_id = ma.fields.Integer(allow_none=True)
    type_name = ma.fields.String(allow_none=True)
    first_name = ma.fields.String(allow_none=True)
    last_name = ma.fields.String(allow_none=True)
    birth_date = ma.fields.Date(allow_none=True)
    email = ma.fields.String(allow_none=True)
    national_number = ma.fields.String(allow_none=True, metadata={
        "description": "masked without core.people.national_number"})
    preferred_language = ma.fields.String()
    waiting_position = ma.fields.Integer(allow_none=True)
    created_at = ma.fields.DateTime()
    decided_at = ma.fields.DateTime(allow_none=True)
    decline_reason = ma.fields.String(allow_none=True)
    person_id = ma.fields.Integer(allow_none=True)
    membership_id = ma.fields.Integer(allow_none=True)
    match_problem = ma.fields.String(allow_none=True, metadata={
        "description": "why the application cannot be matched to a person (a national number of someone else)"})
    matches = ma.fields.List(ma.fields.Dict(), metadata={
        "description": "existing people the applicant may be: {person_id, name, birth_date, certain, in_club}"})


ApplicationPageSchema = page_schema(ApplicationSchema, "ApplicationPageSchema")


class ApplicationListArgsSchema(PageArgs):
    status = ma.fields.String(validate=validate.OneOf(("new", "waiting", "accepted", "declined")))


class AcceptSchema(ma.Schema):
    person_id = ma.fields.Integer(allow_none=True, metadata={"description": "one of the application's matches"})
    custom_fields = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Raw(), metadata={
        "description": "custom field values for a new person (required fields must be given)"})
    new_person = ma.fields.Boolean(load_default=False, metadata={
        "description": "the applicant is none of the matches: create a new person"})
    type_id = ma.fields.Integer(allow_none=True, metadata={"description": "default: the type applied for"})
    starts_on = ma.fields.Date(allow_none=True, metadata={"description": "default today"})
    invite_to_app = ma.fields.Boolean(load_default=False, metadata={
        "description": "also give the member role and, without a login, an invitation to the member app "
                       "(needs core.roles.write)"})


class AcceptedSchema(MembershipSchema):
    invitation = ma.fields.String(allow_none=True, metadata={
        "description": "with `invite_to_app`: null when the invitation went out, else why it could not"})


class DeclineSchema(ma.Schema):
    reason = ma.fields.String(allow_none=True, validate=validate.Length(max=500))
    tell_applicant = ma.fields.Boolean(load_default=False, metadata={"description": "e-mail the applicant"})
