"""The layer's build trims botocore's data (layers/common/trim_botocore_data.py): what it keeps must be what botocore
needs for the services the platform calls. Checked against botocore's own data: a copy is trimmed, and clients made
from it alone are compared with clients made from the data as shipped."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import botocore
import botocore.session
import pytest
import trim_botocore_data
from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.exceptions import UnknownServiceError
from botocore.loaders import Loader
from botocore.model import OperationModel, Shape

from audience_sync.adapters.aws import clients

SHIPPED = Path(botocore.__file__).parent / "data"
CLIENTS_SOURCE = Path(clients.__file__)
# a request of each service that needs no parameters (S3's names a bucket: its endpoint rules read the client's
# context parameters, whose documentation botocore requires)
REQUESTS: dict[str, tuple[str, dict[str, Any]]] = {
    "cloudformation": ("list_stacks", {}),
    "dynamodb": ("list_tables", {}),
    "kms": ("list_keys", {}),
    "s3": ("head_bucket", {"Bucket": "a-bucket"}),
    "scheduler": ("list_schedules", {}),
    "secretsmanager": ("list_secrets", {}),
    "sns": ("list_topics", {}),
    "sqs": ("list_queues", {}),
    "stepfunctions": ("list_state_machines", {}),
    "sts": ("get_caller_identity", {}),
}
NOT_CALLED = ("ec2", "lambda")  # two services the platform does not call, to be removed
REGIONS = ("us-east-1", "eu-west-1", "cn-north-1")  # two partitions


@pytest.fixture(scope="module")
def trimmed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("botocore") / "data"
    data.mkdir()
    for entry in SHIPPED.iterdir():
        if entry.is_file():
            shutil.copy(entry, data / entry.name)
    for service in (*clients.SERVICES, *NOT_CALLED):
        shutil.copytree(SHIPPED / service, data / service)
    trim_botocore_data.trim(data, trim_botocore_data.kept_services(CLIENTS_SOURCE))
    return data


class _LayerLoader(Loader):
    """botocore's loader with `data` alone as its own data directory, as the trimmed data is in the layer (botocore
    treats endpoints from elsewhere as a user's and resolves them differently)."""

    def __init__(self, data: Path) -> None:
        self.BUILTIN_DATA_PATH = str(data)
        super().__init__(extra_search_paths=[str(data)], include_default_search_paths=False)


def _session(data: Path | None) -> botocore.session.Session:
    session = botocore.session.get_session()
    if data is not None:  # only this directory: not botocore's own data behind it
        session.register_component("data_loader", _LayerLoader(data))
    return session


def _client(session: botocore.session.Session, service: str, region: str) -> Any:
    return session.create_client(
        service, region_name=region, aws_access_key_id="placeholder", aws_secret_access_key="placeholder"
    )


def _signature(shape: Shape | None, seen: frozenset[str] = frozenset()) -> Any:
    """What botocore serialises and parses by: names, types, locations and constraints, member by member."""
    if shape is None:
        return None
    if shape.name in seen:  # a recursive shape: its name stands for it
        return shape.name
    seen = seen | {shape.name}
    own: tuple[Any, ...] = (
        shape.name,
        shape.type_name,
        sorted(shape.serialization.items()),
        sorted(shape.metadata.items(), key=str),
    )
    members = getattr(shape, "members", None)
    if members is not None:
        return (*own, [(name, _signature(member, seen)) for name, member in members.items()])
    for part in ("member", "key", "value"):
        inner = getattr(shape, part, None)
        if inner is not None:
            own = (*own, part, _signature(inner, seen))
    return own


def _operation(model: OperationModel) -> Any:
    return (
        model.http,
        model.metadata,
        _signature(model.input_shape),
        _signature(model.output_shape),
        [_signature(error) for error in model.error_shapes],
        [(p.name, p.member_name) for p in model.context_parameters],
        model.static_context_parameters,
    )


def _sent(client: Any, service: str) -> tuple[str, dict[str, str]]:
    """The URL and headers of the service's request in REQUESTS, as the client prepared it (answered here: nothing
    is sent)."""
    prepared: list[tuple[str, dict[str, str]]] = []

    def answer(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        prepared.append((params["url"], dict(params["headers"])))
        return AWSResponse(params["url"], 200, HTTPHeaders(), None), {}

    client.meta.events.register_first(f"before-call.{client.meta.service_model.service_id.hyphenize()}", answer)
    operation, arguments = REQUESTS[service]
    getattr(client, operation)(**arguments)
    (found,) = prepared
    return found


def test_the_services_kept_are_those_the_clients_may_create() -> None:
    assert trim_botocore_data.kept_services(CLIENTS_SOURCE) == clients.SERVICES
    assert set(REQUESTS) == set(clients.SERVICES)


def test_only_the_services_called_are_left(trimmed: Path) -> None:
    assert {p.name for p in trimmed.iterdir() if p.is_dir()} == set(clients.SERVICES)
    with pytest.raises(UnknownServiceError):
        _client(_session(trimmed), "ec2", "us-east-1")


@pytest.mark.parametrize("service", sorted(clients.SERVICES))
def test_a_client_from_the_trimmed_data_is_the_shipped_client(trimmed: Path, service: str) -> None:
    shipped, kept = _session(None), _session(trimmed)
    for region in REGIONS:
        expected, got = _client(shipped, service, region), _client(kept, service, region)
        assert got.meta.endpoint_url == expected.meta.endpoint_url, region
        assert got.meta.region_name == expected.meta.region_name
        assert got.meta.config.signature_version == expected.meta.config.signature_version
        assert got.meta.partition == expected.meta.partition
        signer, expected_signer = got._request_signer, expected._request_signer
        assert (signer.signing_name, signer.region_name) == (expected_signer.signing_name, expected_signer.region_name)
        assert _sent(got, service) == _sent(expected, service), region
    expected_model, model = expected.meta.service_model, got.meta.service_model
    assert model.metadata == expected_model.metadata
    assert model.client_context_parameters == expected_model.client_context_parameters
    assert model.operation_names == expected_model.operation_names
    for name in model.operation_names:
        assert _operation(model.operation_model(name)) == _operation(expected_model.operation_model(name)), name
    assert model.documentation == ""  # what was dropped: the help text
    assert expected_model.documentation != ""


@pytest.mark.parametrize("service", sorted(clients.SERVICES))
def test_every_other_file_of_a_service_holds_the_shipped_data(trimmed: Path, service: str) -> None:
    kept = [p for p in (trimmed / service).glob("*/*") if p.name not in trim_botocore_data._MODELS]
    assert {p.relative_to(trimmed) for p in kept} == {
        p.relative_to(SHIPPED) for p in (SHIPPED / service).glob("*/*") if p.name not in trim_botocore_data._MODELS
    }
    for path in kept:
        shipped = SHIPPED / path.relative_to(trimmed)
        assert trim_botocore_data._read(path) == trim_botocore_data._read(shipped), path.name
        assert path.stat().st_size <= shipped.stat().st_size, path.name


def test_a_presigned_link_from_the_trimmed_data_is_the_shipped_one(trimmed: Path) -> None:
    def link(session: botocore.session.Session) -> str:
        client = _client(session, "s3", "eu-west-1")
        url: str = client.generate_presigned_url("get_object", Params={"Bucket": "a-bucket", "Key": "a/key.csv"})
        return url.split("?", maxsplit=1)[0]  # the query carries the signing time

    assert link(_session(trimmed)) == link(_session(None))


def test_documentation_is_dropped_where_it_is_help_and_kept_where_it_is_a_name() -> None:
    model = {
        "documentation": "help",
        "clientContextParams": {"Accelerate": {"documentation": "required by botocore", "type": "boolean"}},
        "operations": {"documentation": {"name": "documentation", "documentation": "help", "documentationUrl": "u"}},
        "shapes": {
            "S": {
                "type": "structure",
                "documentation": "help",
                "members": {"documentation": {"shape": "T", "documentation": "help"}},
            },
            "T": {"type": "string", "enum": ["documentation"]},
        },
    }

    assert trim_botocore_data.without_documentation(model) == {
        "clientContextParams": {"Accelerate": {"documentation": "required by botocore", "type": "boolean"}},
        "operations": {"documentation": {"name": "documentation"}},
        "shapes": {
            "S": {"type": "structure", "members": {"documentation": {"shape": "T"}}},
            "T": {"type": "string", "enum": ["documentation"]},
        },
    }


def test_a_service_without_data_fails_the_build(tmp_path: Path) -> None:
    (tmp_path / "endpoints.json").write_text('{"partitions": []}')
    with pytest.raises(ValueError, match="no data for"):
        trim_botocore_data.trim(tmp_path, frozenset({"sqs"}))


def test_the_client_factory_refuses_a_service_whose_data_is_not_kept() -> None:
    with pytest.raises(ValueError, match=r"not in clients\.SERVICES"):
        clients.client("ec2")
