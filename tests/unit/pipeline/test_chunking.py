"""pipeline/chunking.py: users cut into queue messages that fit SQS, many users per message, order kept."""

from __future__ import annotations

import json
import random
import re

import pytest

from audience_sync.core.users import QueuedUser, hash_email
from audience_sync.destinations.base import SyncTarget
from audience_sync.pipeline import chunking
from audience_sync.pipeline.chunking import MAX_MESSAGE_BYTES, ONE_SHOT_USERS, chunk_users, message_bodies
from audience_sync.pipeline.messages import QueuedMessage

TARGET = SyncTarget(connection_id="linkedin", ad_account_id="507", audience_id="9", action="add")


def compact(value: object) -> int:
    return len(json.dumps(value, separators=(",", ":")).encode())


def users(n: int, seed: int = 1) -> list[QueuedUser]:
    rng = random.Random(seed)
    out: list[QueuedUser] = []
    for i in range(n):
        user: QueuedUser = {"x": f"user-{i}-" + "z" * rng.randrange(0, 40)}
        if rng.random() < 0.8:
            user["e"] = hash_email(f"person{i}@example.com") or ""
        if rng.random() < 0.5:
            user["f"] = "Ána" * rng.randrange(1, 11)
            user["l"] = "Ruiz"
        if rng.random() < 0.3:
            user["g"] = f"38400000-8cf0-11bd-b23e-{i:012d}"
        out.append(user)
    return out


@pytest.mark.parametrize("overhead", [0, 2, 37])
def test_chunks_fit_keep_order_and_are_never_empty(overhead: int) -> None:
    data = users(300)
    for max_bytes in [*range(400, 700, 7), 1_000, 5_000]:  # above the largest single user
        chunks = list(chunk_users(data, max_bytes, overhead))
        assert all(chunks), max_bytes
        assert [u for chunk in chunks for u in chunk] == data
        for chunk in chunks:
            assert compact(chunk) + overhead <= max_bytes, (max_bytes, overhead, compact(chunk))


def test_chunks_are_as_full_as_allowed() -> None:
    data: list[QueuedUser] = [{"x": str(i)} for i in range(10)]  # each user is 9 bytes of JSON
    # 3 users as a JSON list: [ + 3*9 + 2 commas + ] = 31 bytes
    assert [len(c) for c in chunk_users(data, 31, 0)] == [3, 3, 3, 1]
    assert [len(c) for c in chunk_users(data, 30, 0)] == [2, 2, 2, 2, 2]


def test_users_that_fit_together_are_one_chunk_to_the_byte() -> None:
    data = users(40, seed=3)
    whole = len(json.dumps(data, separators=(",", ":")))
    assert whole >= compact(data)
    assert [len(c) for c in chunk_users(data, whole + 5, 5)] == [40]
    split = list(chunk_users(data, whole + 4, 5))
    assert len(split) > 1
    assert [u for chunk in split for u in chunk] == data


@pytest.mark.parametrize("count", [1, 40, ONE_SHOT_USERS])
def test_an_entry_that_fits_one_message_is_one_message_to_the_byte(count: int, monkeypatch: pytest.MonkeyPatch) -> None:
    data = users(count, seed=3)
    (whole,) = message_bodies(template_for("b"), data, {"entered": 1})
    monkeypatch.setattr(chunking, "MAX_MESSAGE_BYTES", len(whole.encode()))
    assert message_bodies(template_for("b"), data, {"entered": 1}) == [whole]
    if count > 1:
        monkeypatch.setattr(chunking, "MAX_MESSAGE_BYTES", len(whole.encode()) - 1)
        split = message_bodies(template_for("b"), data, {"entered": 1})
        assert len(split) > 1 and all(len(b.encode()) < len(whole.encode()) for b in split)
        parsed = [QueuedMessage.model_validate_json(b) for b in split]
        assert [u for m in parsed for u in m.users] == data
        assert sum(m.entry["entered"] for m in parsed) == count


def test_an_entry_of_more_users_than_one_shot_is_sized_user_by_user(monkeypatch: pytest.MonkeyPatch) -> None:
    data: list[QueuedUser] = [{"x": str(i)} for i in range(ONE_SHOT_USERS + 1)]
    whole = compact(data)
    # Sized one by one, with room for the envelope: the users that would fit one message at the byte are two.
    monkeypatch.setattr(chunking, "MAX_MESSAGE_BYTES", whole + len(message_bodies(template_for("b"), [])[0]))
    assert len(message_bodies(template_for("b"), data)) == 2


def test_no_users_no_chunks() -> None:
    assert list(chunk_users([], 100, 0)) == []


def test_message_bodies_for_10000_users() -> None:
    data = users(10_000)
    target = TARGET
    template = QueuedMessage(
        chunk_id="base",
        step_id="step-1",
        target=target,
        users=[data[0]],
        correlation_id="c" * 36,
        first_enqueued_at=1_790_000_000_000,
    )
    bodies = message_bodies(template, data)
    assert len(bodies) <= 10  # thousands of users per message
    assert len(bodies) * 500 < len(data)
    back: list[QueuedUser] = []
    for body in bodies:
        assert len(body.encode()) <= MAX_MESSAGE_BYTES
        message = QueuedMessage.model_validate_json(body)
        assert message.step_id == "step-1"
        assert message.target == target
        assert message.correlation_id == template.correlation_id
        assert message.first_enqueued_at == template.first_enqueued_at
        back.extend(message.users)
    assert back == data


def test_one_small_batch_is_one_message() -> None:
    target = SyncTarget(connection_id="linkedin", ad_account_id="1", audience_id="2", action="remove")
    data = users(3)
    template = QueuedMessage(chunk_id="one", step_id="s", target=target, users=[data[0]], first_enqueued_at=0)
    bodies = message_bodies(template, data)
    assert len(bodies) == 1
    message = QueuedMessage.model_validate_json(bodies[0])
    assert message.users == data
    assert message.chunk_id == "one.0"


def template_for(chunk_id: str) -> QueuedMessage:
    return QueuedMessage(chunk_id=chunk_id, step_id="step-1", target=TARGET, users=[{"x": "t"}], first_enqueued_at=0)


def chunk_ids(bodies: list[str]) -> list[str]:
    return [QueuedMessage.model_validate_json(b).chunk_id for b in bodies]


def test_chunk_ids_are_deterministic_and_distinct_per_chunk() -> None:
    data = users(10_000)
    base = "9f" * 16  # what ingest.chunk_base gives
    first = chunk_ids(message_bodies(template_for(base), data))
    assert len(first) > 1
    assert first == [f"{base}.{i}" for i in range(len(first))]
    assert len(set(first)) == len(first)
    # the same webhook queued again (a retried request) gets the same ids: the ledger counts each chunk once
    assert chunk_ids(message_bodies(template_for(base), data)) == first
    # another webhook's chunks never collide with these
    assert set(chunk_ids(message_bodies(template_for("ab" * 16), data))).isdisjoint(first)


def test_template_chunk_id_is_required() -> None:
    with pytest.raises(ValueError, match="chunk_id"):
        QueuedMessage.model_validate(
            {"step_id": "s", "target": TARGET.model_dump(), "users": [{"x": "a"}], "first_enqueued_at": 0}
        )
    with pytest.raises(ValueError, match="chunk_id"):
        template_for("")


def test_json_size_is_exact_for_plain_users_and_never_short() -> None:
    from audience_sync.pipeline.chunking import json_size

    for user in users(500, seed=7):
        size = json_size(user)
        assert size >= compact(user)
        if all(str(v).isascii() for v in user.values()):
            assert size == compact(user), user
    quoted: QueuedUser = {"x": 'a"b\\c\x01', "f": "Ana", "l": "Ruiz"}
    assert json_size(quoted) == compact(quoted)


def test_characters_sqs_refuses_are_escaped_and_mean_the_same() -> None:
    """SQS refuses U+FFFE, U+FFFF and most control characters in a body; JSON may write them raw."""
    sent: QueuedUser = {"x": "u1", "w": {"m": "POST", "u": "https://e.com", "h": {}, "b": "a\uffff\ufffe\x01b 😀"}}
    (body,) = message_bodies(template_for("c"), [sent])
    assert not re.search("[\uffff\ufffe\x01]", body) and "😀" in body
    assert QueuedMessage.model_validate_json(body).users == [sent]


def test_a_rendered_webhooks_size_is_counted_in_full() -> None:
    """A campaign's user carries a rendered webhook (a dict): its JSON with escapes counts, so no message is over."""
    heavy: list[QueuedUser] = [{"x": f"u{i}", "w": {"b": 'é"\n' * 20_000}, "d": "d"} for i in range(12)]
    bodies = message_bodies(template_for("w"), heavy)
    assert len(bodies) > 1 and all(len(b.encode()) <= MAX_MESSAGE_BYTES for b in bodies)
