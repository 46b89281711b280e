"""The Braze-compatible routes in the OpenAPI document (GET /v1/openapi.json), and the schemas fuzzing draws from.

The function that serves the routes reads bodies itself (per-object errors inside a 201 need that), so these models
document the bodies and are not used to validate them: they are permissive where Braze is (unknown keys allowed),
and bounded where it is not (75 objects an array, 50 items).
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, ConfigDict, Field

from audience_sync.cohorts.requests import MAX_COHORT_ID_CHARS, MAX_IDS
from audience_sync.profiles.requests import MAX_ITEMS
from audience_sync.profiles.track import MAX_OBJECTS
from audience_sync.sources.braze.routes import ROUTES

BEARER_SCHEME = "bearerAuth"
DESCRIPTION = (
    "The Braze-compatible API (contract v2 §2): at the root of local mode's port, at the PlatformApiUrl output on "
    'AWS. `Authorization: Bearer <REST API key>`; errors are {"message", "errors"}; every answer once the key is '
    "known carries X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset."
)


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class UserAlias(BaseModel):
    alias_name: str
    alias_label: str


class TrackRequest(_Open):
    attributes: Annotated[list[dict[str, Any]], Field(max_length=MAX_OBJECTS)] | None = None
    events: Annotated[list[dict[str, Any]], Field(max_length=MAX_OBJECTS)] | None = None
    purchases: Annotated[list[dict[str, Any]], Field(max_length=MAX_OBJECTS)] | None = None


class NewAlias(UserAlias):
    external_id: str | None = None


class AliasRequest(_Open):
    user_aliases: Annotated[list[NewAlias], Field(max_length=MAX_ITEMS)]


class AliasToIdentify(BaseModel):
    external_id: str
    user_alias: UserAlias


class IdentifyRequest(_Open):
    aliases_to_identify: Annotated[list[AliasToIdentify], Field(max_length=MAX_ITEMS)] | None = None
    merge_behavior: str | None = None


class MergeUpdate(BaseModel):
    identifier_to_merge: dict[str, Any]
    identifier_to_keep: dict[str, Any]


class MergeRequest(_Open):
    merge_updates: Annotated[list[MergeUpdate], Field(max_length=MAX_ITEMS)]


class DeleteRequest(_Open):
    external_ids: Annotated[list[str], Field(max_length=MAX_ITEMS)] | None = None
    user_aliases: Annotated[list[UserAlias], Field(max_length=MAX_ITEMS)] | None = None
    braze_ids: Annotated[list[str], Field(max_length=MAX_ITEMS)] | None = None


class ExportRequest(_Open):
    external_ids: Annotated[list[str], Field(max_length=MAX_ITEMS)] | None = None
    user_aliases: Annotated[list[UserAlias], Field(max_length=MAX_ITEMS)] | None = None
    braze_id: str | None = None
    email_address: str | None = None
    phone: str | None = None
    fields_to_export: Annotated[list[str], Field(min_length=1)] | None = None


BODIES: dict[str, type[BaseModel]] = {
    "/users/track": TrackRequest,
    "/users/alias/new": AliasRequest,
    "/users/identify": IdentifyRequest,
    "/users/merge": MergeRequest,
    "/users/delete": DeleteRequest,
    "/users/export/ids": ExportRequest,
}


class _PartnerCredentials(_Open):
    partner_api_key: str
    client_secret: str
    cohort_id: Annotated[str, Field(min_length=1, max_length=MAX_COHORT_ID_CHARS)]


class CohortRequest(_PartnerCredentials):
    name: Annotated[str, Field(min_length=1)]
    created_at: str


class CohortChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_ids: list[Annotated[str, Field(min_length=1, max_length=MAX_COHORT_ID_CHARS)]] = Field(default_factory=list)
    device_ids: list[Annotated[str, Field(min_length=1, max_length=MAX_COHORT_ID_CHARS)]] = Field(default_factory=list)
    aliases: list[UserAlias] = Field(default_factory=list)
    should_remove: bool = False


class CohortUsersRequest(_PartnerCredentials):
    cohort_changes: list[CohortChange]


# path (with its {partner}), body, summary
PARTNER_ROUTES: tuple[tuple[str, type[BaseModel], str], ...] = (
    ("/partners/<partner>/cohorts", CohortRequest, "Create or rename a partner's cohort (idempotent)"),
    (
        "/partners/<partner>/cohorts/users",
        CohortUsersRequest,
        f"Add users to a cohort or remove them (at most {MAX_IDS:,} ids; removals after additions)",
    ),
)
PARTNER_ERRORS = {
    400: "Malformed JSON, a bad cohort_id, name, created_at or cohort_changes, more than 1,000 ids",
    401: "Invalid partner API key, or invalid client secret (a data import key of that partner)",
    503: "AWS failed; send the request again",
}
SUMMARIES = {
    "/users/track": "Attributes, events and purchases (at most 75 objects each); per-object errors in a 201",
    "/users/alias/new": "New aliases: for a user, or a new alias-only user",
    "/users/identify": "Identify alias-only (or email-only) users as an external id",
    "/users/merge": "Merge users (at most 50 merges)",
    "/users/delete": "Delete users and everything about them",
    "/users/export/ids": "Export profiles by external id, alias, braze_id, email address or phone",
}
ERRORS = {
    400: "Malformed JSON, a duplicated key, too many objects or items, every object refused",
    401: "Missing, unknown or revoked REST API key",
    403: "The key lacks the route's permission",
    413: "Body over 5 MB",
    429: "The key's requests this minute are spent (Retry-After)",
    503: "AWS failed; send the request again",
}


class SegmentExportRequest(_Open):
    segment_id: Annotated[str, Field(min_length=1, max_length=128)]
    fields_to_export: Annotated[list[str], Field(min_length=1, max_length=64)]
    custom_attributes_to_export: Annotated[list[str], Field(max_length=500)] | None = None
    callback_endpoint: Annotated[str, Field(max_length=2048)] | None = None
    output_format: Annotated[str, Field(pattern="^(zip|gzip)$")] | None = None


EXPORT_PATH = "/users/export/segment"
EXPORT_ERRORS = {
    400: "Malformed JSON, no segment_id or fields_to_export, a field named twice or unknown, a bad callback_endpoint, "
    "gzip without an export bucket",
    401: "Missing, unknown or revoked REST API key",
    403: "The key lacks users.export.segment",
    404: "No such segment",
    413: "Body over 5 MB",
    429: "The key's requests this minute are spent, or the segment's last export still runs (Retry-After)",
    503: "AWS failed; send the request again",
}


CATALOGUE_ERRORS = {
    400: "A bad page, sort_direction, or no segment_id or campaign_id",
    401: "Missing, unknown or revoked REST API key",
    403: "The key lacks the route's permission",
    404: "No such segment or campaign",
    429: "The key's requests this minute are spent (Retry-After)",
    503: "AWS failed; send the request again",
}
CATALOGUE_PATHS = ("/segments/list", "/segments/details", "/campaigns/list", "/campaigns/details")


def _catalogue(router: Router) -> None:
    for kind, shape in (
        ("segments", '{"message", "segments": [{"id", "name", "analytics_tracking_enabled", "tags"}]}'),
        ("campaigns", '{"message", "campaigns": [{"id", "last_edited", "name", "is_api_campaign", "tags"}]}'),
    ):

        def listed(
            page: Annotated[int, Query(ge=0, le=999_999)] = 0,
            sort_direction: Annotated[str, Query(pattern="^(asc|desc)$")] = "asc",
        ) -> None:
            raise AssertionError("the platform API function serves the catalogue")

        router.get(
            f"/{kind}/list",
            summary=f"{kind.capitalize()}, 100 a page by creation time (Braze's shape)",
            description=f"Needs the `{kind}.list` permission.",
            tags=["braze-compatible"],
            responses={200: {"description": shape}},
        )(listed)

    @router.get(
        "/segments/details",
        summary="A segment's details: name, description, the filter in words (Braze's shape)",
        description="Needs the `segments.details` permission.",
        tags=["braze-compatible"],
        responses={
            200: {
                "description": '{"message", "created_at", "updated_at", "name", "description", '
                '"text_description", "tags", "teams"}'
            }
        },
    )
    def segments_details(segment_id: Annotated[str, Query(min_length=1, max_length=128)]) -> None:
        raise AssertionError("the platform API function serves the catalogue")

    @router.get(
        "/campaigns/details",
        summary="A campaign's details, its message included (Braze's shape)",
        description="Needs the `campaigns.details` permission.",
        tags=["braze-compatible"],
        responses={
            200: {
                "description": '{"message", "created_at", "updated_at", "archived", "draft", "enabled", "name", '
                '"schedule_type", "channels", "messages": {id: {"channel": "webhook", "url", "body", "type", '
                '"headers", "method"}}, ...}'
            }
        },
    )
    def campaigns_details(campaign_id: Annotated[str, Query(min_length=1, max_length=128)]) -> None:
        raise AssertionError("the platform API function serves the catalogue")


def documentation_router() -> Router:
    """The routes with their bodies' models, for the document only (the platform API function serves them)."""
    router = Router()
    for path, permission, status, _ in ROUTES:

        def served_elsewhere(body: BaseModel) -> None:
            raise AssertionError("the platform API function serves the Braze-compatible routes")

        served_elsewhere.__annotations__ = {"body": BODIES[path], "return": "None"}
        router.post(
            path,
            summary=SUMMARIES[path],
            description=f"Needs the `{permission}` permission.",
            tags=["braze-compatible"],
            responses={status: {"description": "success"}},
        )(served_elsewhere)
    for path, model, summary in PARTNER_ROUTES:

        def partner_route(partner: str, body: BaseModel) -> None:
            raise AssertionError("the platform API function serves the partner routes")

        partner_route.__annotations__ = {"partner": "str", "body": model, "return": "None"}
        router.post(
            path,
            summary=summary,
            description="Credentials in the body: the stack's partner API key and a data import key of the partner.",
            tags=["braze-compatible"],
            responses={201: {"description": "success"}},
        )(partner_route)
    _catalogue(router)

    @router.post(
        EXPORT_PATH,
        summary="Export a segment's users to S3: one zip behind a link, or files in the export bucket",
        description="Needs the `users.export.segment` permission.",
        tags=["braze-compatible"],
        responses={201: {"description": '{"message": "success", "object_prefix", "url"?}'}},
    )
    def export_segment(body: SegmentExportRequest) -> None:
        raise AssertionError("the platform API function serves the segment export")

    return router


def finish(spec: dict[str, Any]) -> None:
    """Bearer keys and Braze's error envelope on the Braze-compatible operations of a merged document."""
    schemes = spec.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes[BEARER_SCHEME] = {"type": "http", "scheme": "bearer", "description": "a REST API key"}
    spec["components"].setdefault("schemas", {})["BrazeError"] = {
        "type": "object",
        "properties": {"message": {"type": "string"}, "errors": {"type": "array", "items": {}}},
        "required": ["message", "errors"],
    }
    spec.setdefault("tags", []).append({"name": "braze-compatible", "description": DESCRIPTION})
    bearer: list[dict[str, Any]] = [{BEARER_SCHEME: []}]
    for path in BODIES:
        _braze_answers(spec["paths"][path]["post"], bearer, ERRORS)
    for path, _, _ in PARTNER_ROUTES:  # no header: the credentials are in the body
        _braze_answers(spec["paths"][path.replace("<partner>", "{partner}")]["post"], [], PARTNER_ERRORS)
    for path in CATALOGUE_PATHS:
        _braze_answers(spec["paths"][path]["get"], bearer, CATALOGUE_ERRORS)
    _braze_answers(spec["paths"][EXPORT_PATH]["post"], bearer, EXPORT_ERRORS)


def _braze_answers(operation: dict[str, Any], security: list[dict[str, Any]], errors: dict[int, str]) -> None:
    """An operation's security, and its error answers in Braze's envelope (its success answers kept)."""
    envelope = {"application/json": {"schema": {"$ref": "#/components/schemas/BrazeError"}}}
    operation["security"] = security
    responses = {code: answer for code, answer in operation["responses"].items() if code.startswith("2")}
    responses.update({str(code): {"description": why, "content": envelope} for code, why in errors.items()})
    operation["responses"] = responses
