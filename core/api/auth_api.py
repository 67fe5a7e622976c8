"""`/api/v1/auth/token`, `/api/v1/me`: bearer tokens and who am I."""
from __future__ import annotations

import marshmallow as ma
from flask import current_app, g, request
from flask.views import MethodView

from core import auth
from core.api import ApiBlueprint, error
from core.db import db
from core.gates import authenticated_endpoint, public_endpoint

blp = ApiBlueprint("auth", __name__, url_prefix="/api/v1", description="Authentication and the current user")


class TokenRequestSchema(ma.Schema):
    email = ma.fields.Email(required=True)
    password = ma.fields.String(required=True)
    name = ma.fields.String(load_default="api", validate=ma.validate.Length(min=1, max=100))


class TokenSchema(ma.Schema):
    access_token = ma.fields.String()
    token_type = ma.fields.String()
    expires_in = ma.fields.Integer()


class MeAssignmentSchema(ma.Schema):
    id = ma.fields.Integer()
    role = ma.fields.Function(lambda a: a.role.key or a.role.name)
    role_name = ma.fields.Function(lambda a: a.role.name)
    org_id = ma.fields.Integer(allow_none=True)
    org_name = ma.fields.Function(lambda a: a.organisation.name if a.organisation else None)


class MePersonSchema(ma.Schema):
    id = ma.fields.Integer()
    first_name = ma.fields.String()
    last_name = ma.fields.String()
    email = ma.fields.String()
    preferred_language = ma.fields.String()


class MeSchema(ma.Schema):
    user_id = ma.fields.Integer()
    email = ma.fields.String()
    person = ma.fields.Nested(MePersonSchema)
    assignments = ma.fields.List(ma.fields.Nested(MeAssignmentSchema))
    is_platform_admin = ma.fields.Boolean()


@blp.route("/auth/token")
class TokenResource(MethodView):
    @public_endpoint
    @blp.arguments(TokenRequestSchema)
    @blp.response(201, TokenSchema)
    @blp.alt_response(401, description="Bad credentials")
    @blp.alt_response(429, description="Too many failed attempts")
    def post(self, data):
        """Exchange e-mail and password for a bearer token."""
        try:
            user = auth.authenticate(db.session, data["email"], data["password"], request.remote_addr or "")
        except auth.TooManyAttempts:
            error(429, "too many failed login attempts; try again later")
        if user is None:
            error(401, "unknown e-mail address or wrong password")
        raw, token = auth.issue_token(db.session, user, name=data["name"])
        db.session.commit()
        return {"access_token": raw, "token_type": "Bearer",
                "expires_in": current_app.config["API_TOKEN_TTL_SECONDS"]}

    @authenticated_endpoint
    @blp.response(204)
    def delete(self):
        """Revoke the token used for this request (logout)."""
        if g.api_token is None:
            error(401, "authentication required")
        auth.revoke_token(db.session, g.api_token)
        db.session.commit()


@blp.route("/me")
class MeResource(MethodView):
    @authenticated_endpoint
    @blp.response(200, MeSchema)
    def get(self):
        """The logged-in person and their role assignments."""
        user = g.user
        if user is None:
            auth.authentication_required()
        return {"user_id": user.id, "email": user.email, "person": user.person,
                "assignments": user.assignments, "is_platform_admin": g.access.is_platform_admin}
