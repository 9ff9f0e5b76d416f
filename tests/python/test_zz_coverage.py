"""Runs after every other module (pytest takes files in name order): every operation in the OpenAPI
document got at least one answer checked against it, by whichever test file exercised it."""

import pytest

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def test_every_documented_operation_was_exercised(api, spec_document):
    if len(api.covered) < 10:
        pytest.skip("run the whole suite to check coverage")
    documented = {(method, path) for path, item in spec_document["paths"].items() for method in item if method in HTTP_METHODS}
    missing = sorted(documented - api.covered)
    assert not missing, f"operations never exercised: {missing}"
