"""Fixtures of these tests."""

from __future__ import annotations

import pytest

from tests.support.admission import (
    Apiserver,
)


@pytest.fixture
def api(cluster_token, subnet) -> Apiserver:
    return Apiserver(cluster_token)


@pytest.fixture
def dn_header(settings):
    settings.IPRESMGR_ADMISSION_CLIENT_DN_HEADER = "X-IPResMgr-Client-DN"
    return "HTTP_X_IPRESMGR_CLIENT_DN"
