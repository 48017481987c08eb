"""The overlays, rendered once for every test module that reads them."""

from __future__ import annotations

import pytest

from tests.conftest import require_binary
from tests.deploy.manifests import KUSTOMIZE, OVERLAYS, Doc, render


@pytest.fixture(scope="session")
def kubectl() -> str:
    """The kubectl that renders the kustomizations (`kubectl kustomize`)."""
    return require_binary("kubectl")


@pytest.fixture(scope="session")
def rendered(kubectl: str) -> dict[str, list[Doc]]:
    """Each overlay as `kubectl kustomize` renders it."""
    return {overlay: render(kubectl, KUSTOMIZE / "overlays" / overlay) for overlay in OVERLAYS}
