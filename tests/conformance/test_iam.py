"""The IAM token through the official SDK (huaweicloudsdkiam): KeystoneCreateUserTokenByPassword.

The IamClient is pointed at the emulator like the others; it signs the login with the key pair,
which IAM login ignores (the password is the credential).
"""

from __future__ import annotations

from typing import Any

import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkiam.v3 import IamClient
from huaweicloudsdkiam.v3 import model as iam

from tests.conformance.conftest import (
    DOMAIN,
    PASSWORD,
    USER_NAME,
    EmulatorProcess,
    SdkClientFactory,
    assert_accepted,
    assert_refused,
)
from tests.conformance.sdk_models import assert_carried
from tests.emulator.conftest import PROJECT


@pytest.fixture(scope="module")
def iam_client(sdk_client: SdkClientFactory) -> Any:
    """An IamClient of the module's emulator."""
    return sdk_client(IamClient)


def login_request(password: str = PASSWORD) -> Any:
    """The SDK's password login, scoped to the emulator's project."""
    user = iam.PwdPasswordUser(
        domain=iam.PwdPasswordUserDomain(name=DOMAIN), name=USER_NAME, password=password
    )
    auth = iam.PwdAuth(
        identity=iam.PwdIdentity(methods=["password"], password=iam.PwdPassword(user=user)),
        scope=iam.AuthScope(project=iam.AuthScopeProject(id=PROJECT)),
    )
    body = iam.KeystoneCreateUserTokenByPasswordRequestBody(auth=auth)
    return iam.KeystoneCreateUserTokenByPasswordRequest(body=body)


def test_password_login(iam_client: Any, emulator_process: EmulatorProcess) -> None:
    """The token comes back in X-Subject-Token, the body as a TokenResult with nothing lost."""
    response = iam_client.keystone_create_user_token_by_password(login_request())
    assert_accepted(emulator_process, "POST", "/v3/auth/tokens")
    assert response.status_code == 201
    assert response.x_subject_token.startswith("MII")
    assert_carried(response, {})
    token = response.token
    assert (token.user.name, token.user.domain.name, token.project.id) == (
        USER_NAME,
        DOMAIN,
        PROJECT,
    )
    assert token.methods == ["password"]
    assert token.expires_at > token.issued_at


def test_wrong_password_is_a_client_error(
    iam_client: Any, emulator_process: EmulatorProcess
) -> None:
    """A wrong password raises 401; the SDK takes IAM's error.code (401) as the error code."""
    with pytest.raises(ClientRequestException) as caught:
        iam_client.keystone_create_user_token_by_password(login_request("wrong-password"))
    assert_refused(caught, emulator_process, 401, 401)
    assert caught.value.error_msg == "The username or password is wrong."
