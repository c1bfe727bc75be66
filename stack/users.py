"""Upload users: a Cognito user pool and the public app client the upload page signs in with."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from stack.permissions import acknowledge


class UploadUsers(Construct):
    """Who may upload through the API: users an administrator creates (no self sign-up), with a
    strong password and optional TOTP MFA. The app client has no secret (the page is public
    code) and signs in with USER_PASSWORD_AUTH over TLS, its one flow (the page and ``filepipe
    upload --user`` use nothing else); its tokens last an hour, refreshed for up to 30 days. It has
    no OAuth: CDK's default client would allow the code and implicit grants, every scope (the
    admin one among them) and a callback to https://example.com, which nothing here uses."""

    def __init__(self, scope: Construct, construct_id: str, *, destroy_on_removal: bool) -> None:
        super().__init__(scope, construct_id)
        self.user_pool = cognito.UserPool(
            self,
            "UserPool",
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(username=True, email=True),
            sign_in_case_sensitive=False,
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=Duration.days(3),
            ),
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(sms=False, otp=True),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            deletion_protection=not destroy_on_removal,
            removal_policy=RemovalPolicy.DESTROY if destroy_on_removal else RemovalPolicy.RETAIN,
        )
        self.page_client = self.user_pool.add_client(
            "PageClient",
            generate_secret=False,
            auth_flows=cognito.AuthFlow(user_password=True),
            disable_o_auth=True,
            prevent_user_existence_errors=True,
            id_token_validity=Duration.hours(1),
            access_token_validity=Duration.hours(1),
            refresh_token_validity=Duration.days(30),
            enable_token_revocation=True,
        )
        acknowledge(
            self.user_pool,
            "AwsSolutions-COG2",
            "MFA is offered (TOTP) but not required: uploaders are created by an administrator, and the "
            "page has no second-factor flow yet; require it with the pool's MFA setting where policy asks.",
        )
        acknowledge(
            self.user_pool,
            "AwsSolutions-COG8",
            "The Plus feature plan (threat protection) is billed per active user; the Essentials plan's "
            "sign-in is what the page needs. Choose Plus on the pool where the uploader population warrants it.",
        )
