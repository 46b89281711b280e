"""Local mode's routing of template paths (localmode/api_gateway.py), as API Gateway's REST APIs route them."""

from __future__ import annotations

import pytest

from localmode.api_gateway import _compile


@pytest.mark.parametrize(
    ("template", "path", "variables"),
    [
        ("/v1/steps/{step_id}", "/v1/steps/welcome", {"step_id": "welcome"}),
        ("/v1/steps/{step_id}", "/v1/steps/welcome/", {"step_id": "welcome"}),  # a trailing slash reaches it too
        ("/console", "/console/", {}),
        ("/console/{proxy+}", "/console/app.js", {"proxy": "app.js"}),
        ("/console/{proxy+}", "/console/a/b.js", {"proxy": "a/b.js"}),
    ],
)
def test_a_path_matches_its_template_with_its_variables(template: str, path: str, variables: dict[str, str]) -> None:
    match = _compile(template).match(path)
    assert match is not None and match.groupdict() == variables


@pytest.mark.parametrize(
    ("template", "path"),
    [
        ("/v1/steps/{step_id}", "/v1/steps/"),  # a variable is never empty
        ("/v1/steps/{step_id}", "/v1/steps/a/b"),  # nor more than one segment
        ("/console/{proxy+}", "/console/"),
        ("/console", "/console//"),
        ("/v1/steps", "/v1/stepsx"),
    ],
)
def test_a_path_outside_its_template_does_not_match(template: str, path: str) -> None:
    assert _compile(template).match(path) is None
