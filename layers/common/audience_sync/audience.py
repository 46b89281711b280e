"""What a LinkedIn DMP segment's status and counts mean, in plain words (linkedin-api.md §1.3-1.4). Pure."""

from __future__ import annotations

from typing import Any

MIN_VISIBLE_SIZE = 300
EXPLANATIONS = {
    "BUILDING": "LinkedIn is building the audience; the first build can take up to 48 hours. Streaming users into "
    "an ARCHIVED audience also puts it back into BUILDING.",
    "READY": "The audience is ready to use in campaigns.",
    "UPDATING": "LinkedIn is applying recent additions or removals; the audience stays usable in campaigns.",
    "ARCHIVED": "The audience has not been used in an active or draft campaign for 30 days. Add it to a campaign "
    "to reactivate it (LinkedIn reprocesses it for up to 48 hours).",
    "EXPIRED": "The audience was unused for 90 days and LinkedIn deleted its data; it cannot be targeted. "
    "Create a new audience.",
    "FAILED": "LinkedIn could not process the data sent for this audience; it cannot be targeted.",
    "ERROR": "LinkedIn reports an error for this audience; it cannot be targeted.",
}
NOT_TARGETABLE = frozenset({"EXPIRED", "FAILED", "ERROR"})


def describe(segment: dict[str, Any]) -> dict[str, Any]:
    """The audience view of a segment as `GET /rest/dmpSegments/{id}` returns it (status under destinations)."""
    destination = next(
        (d for d in segment.get("destinations") or [] if d.get("destination") == "LINKEDIN"),
        (segment.get("destinations") or [{}])[0],
    )
    status = str(destination.get("status") or "UNKNOWN")
    size = destination.get("audienceSize")
    matched = destination.get("matchedCount")
    input_count = segment.get("inputCount")
    shown_size = int(size) if size is not None and int(size) >= MIN_VISIBLE_SIZE else None
    return {
        "audience_id": str(segment.get("id", "")),
        "name": segment.get("name"),
        "status": status,
        "explanation": EXPLANATIONS.get(status, "LinkedIn reported a status this service does not know."),
        "targetable": status not in NOT_TARGETABLE,
        "audience_size": shown_size,
        "size_note": None
        if shown_size is not None
        else f"LinkedIn shows the size once the audience has at least {MIN_VISIBLE_SIZE} members; it can take "
        "up to 48 hours to populate.",
        "matched_count": int(matched) if matched is not None else None,
        "input_count": int(input_count) if input_count is not None else None,
        "match_rate": round(int(matched) / int(input_count), 4) if matched is not None and input_count else None,
        "match_note": "LinkedIn counts matches over the last 7 days only.",
    }
