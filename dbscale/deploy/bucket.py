"""The S3 bucket the providers' code and template go to: the caller's own, in the stack's region.

Every call names the expected owner (``ExpectedBucketOwner``): a bucket of the default name made
by another account first, and opened to this one, is refused (HTTP 403) instead of receiving code
that would run with the providers' roles.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from dbscale.core.aws import aws_errors, client
from dbscale.core.errors import InvalidRequest

BUCKET_TAG = ("dbscale:stack", "providers")
"""Tag set last on a bucket dbscale made and secured: a bucket without it is secured (again)."""
_MISSING = ("404", "NoSuchBucket", "NotFound", "NoSuchKey")
_DENIED = ("403", "AccessDenied", "Forbidden")


def partition_of(region: str) -> str:
    """The ARN partition of ``region`` (``aws``, ``aws-cn``, ``aws-us-gov``)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def tls_only_policy(bucket: str, partition: str = "aws") -> dict[str, Any]:
    """A bucket policy denying every request to ``bucket`` and its objects that is not sent over TLS."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "TlsOnly",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [f"arn:{partition}:s3:::{bucket}", f"arn:{partition}:s3:::{bucket}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


def _code(err: Any) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


class CodeBucket:
    """The code bucket of ``account`` in ``region``, through ``session``'s S3 client."""

    def __init__(self, session: Any, *, account: str, region: str) -> None:
        self._session = session
        self.account = account
        self.region = region

    @property
    def _s3(self) -> Any:
        return client("s3", self._session)

    def default_name(self) -> str:
        """The bucket made when none is given: ``dbscale-providers-<account>-<region>``."""
        return f"dbscale-providers-{self.account}-{self.region}"

    def ensure(self, bucket: str | None = None, *, on_step: Callable[[str], None] = lambda _: None) -> str:
        """``bucket`` when given (it must exist, be this account's and be in the region; it is not
        changed), else the default bucket, made private, encrypted and TLS-only on first use. Its
        policy and tags are set only until it carries :data:`BUCKET_TAG` (set last), so statements or
        tags an organisation adds later are kept."""
        if bucket is not None:
            self._check(bucket, given=True)
            return bucket
        name = self.default_name()
        if not self._check(name, given=False):
            on_step(f"making the code bucket {name} (private, encrypted, TLS only)")
            self._create(name)
        if not self._tagged(name):
            self._secure(name)
        return name

    def _check(self, bucket: str, *, given: bool) -> bool:
        """True when ``bucket`` exists (this account's, in the region); False when it does not and is not given."""
        from botocore.exceptions import ClientError

        option = "--bucket" if given else "bucket"
        try:
            head = self._s3.head_bucket(Bucket=bucket, ExpectedBucketOwner=self.account)
        except ClientError as err:
            if _code(err) in _MISSING and not given:
                return False
            if _code(err) in _MISSING:
                raise InvalidRequest(
                    f"--bucket '{bucket}' does not exist: make it first, or leave --bucket out", field="bucket"
                ) from None
            if _code(err) in _DENIED:
                raise InvalidRequest(
                    f"{option} '{bucket}' is not this account's ({self.account}) or not readable with these "
                    "credentials (HeadBucket: HTTP 403, ExpectedBucketOwner); pass --bucket with a bucket of this "
                    "account",
                    field="bucket",
                ) from None
            raise InvalidRequest(
                f"{option} '{bucket}': HeadBucket failed with {_code(err) or err}", field="bucket"
            ) from None
        where = head.get("BucketRegion") or head.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get(
            "x-amz-bucket-region"
        )
        if where and where != self.region:
            raise InvalidRequest(
                f"{option} '{bucket}' is in {where}, the stack in {self.region}: Lambda reads its code from a bucket "
                "in its own region; pass --bucket with a bucket there (or leave it out)",
                field="bucket",
            )
        return True

    def _create(self, name: str) -> None:
        from botocore.exceptions import ClientError

        create: dict[str, Any] = {"Bucket": name, "ObjectOwnership": "BucketOwnerEnforced"}
        if self.region != "us-east-1":
            create["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        try:
            self._s3.create_bucket(**create)
        except ClientError as err:
            if _code(err) == "BucketAlreadyOwnedByYou":  # a retried or concurrent create of ours
                return
            with aws_errors(f"make the code bucket '{name}' (s3:CreateBucket)"):
                raise

    def _tagged(self, name: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            tags = self._s3.get_bucket_tagging(Bucket=name, ExpectedBucketOwner=self.account)["TagSet"]
        except ClientError as err:
            if _code(err) in ("NoSuchTagSet", *_MISSING):
                return False
            with aws_errors(f"read the tags of the code bucket '{name}' (s3:GetBucketTagging)"):
                raise
        return any(t["Key"] == BUCKET_TAG[0] and t["Value"] == BUCKET_TAG[1] for t in tags)

    def _secure(self, name: str) -> None:
        s3, owner = self._s3, self.account
        with aws_errors(f"block public access to the code bucket '{name}' (s3:PutPublicAccessBlock)"):
            s3.put_public_access_block(
                Bucket=name,
                ExpectedBucketOwner=owner,
                PublicAccessBlockConfiguration={
                    "BlockPublicAcls": True,
                    "IgnorePublicAcls": True,
                    "BlockPublicPolicy": True,
                    "RestrictPublicBuckets": True,
                },
            )
        with aws_errors(f"encrypt the code bucket '{name}' (s3:PutBucketEncryption)"):
            s3.put_bucket_encryption(
                Bucket=name,
                ExpectedBucketOwner=owner,
                ServerSideEncryptionConfiguration={
                    "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
                },
            )
        with aws_errors(f"require TLS on the code bucket '{name}' (s3:PutBucketPolicy)"):
            policy = tls_only_policy(name, partition_of(self.region))
            s3.put_bucket_policy(Bucket=name, ExpectedBucketOwner=owner, Policy=json.dumps(policy))
        with aws_errors(f"tag the code bucket '{name}' (s3:PutBucketTagging)"):
            s3.put_bucket_tagging(
                Bucket=name,
                ExpectedBucketOwner=owner,
                Tagging={"TagSet": [{"Key": BUCKET_TAG[0], "Value": BUCKET_TAG[1]}]},
            )

    def allow_organization_read(self, bucket: str, statement: dict[str, Any]) -> bool:
        """Put ``statement`` (an organization-read grant, identified by its ``Sid``) into the policy of
        ``bucket``, replacing a statement of that Sid and keeping every other; True when it changed."""
        from botocore.exceptions import ClientError

        try:
            text = self._s3.get_bucket_policy(Bucket=bucket, ExpectedBucketOwner=self.account)["Policy"]
            policy: dict[str, Any] = json.loads(text)
        except ClientError as err:
            if _code(err) != "NoSuchBucketPolicy":
                with aws_errors(f"read the policy of the code bucket '{bucket}' (s3:GetBucketPolicy)"):
                    raise
            policy = {"Version": "2012-10-17", "Statement": []}
        statements = policy.get("Statement", [])
        statements = [statements] if isinstance(statements, dict) else list(statements)
        if statement in statements:
            return False
        policy["Statement"] = [s for s in statements if s.get("Sid") != statement.get("Sid")] + [statement]
        with aws_errors(f"let the organization read the code bucket '{bucket}' (s3:PutBucketPolicy)"):
            self._s3.put_bucket_policy(Bucket=bucket, ExpectedBucketOwner=self.account, Policy=json.dumps(policy))
        return True

    def upload(self, bucket: str, key: str, data: bytes, content_type: str) -> bool:
        """Put ``data`` at ``key`` unless it is there already (keys are content hashes); True when uploaded."""
        from botocore.exceptions import ClientError

        try:
            self._s3.head_object(Bucket=bucket, Key=key, ExpectedBucketOwner=self.account)
            return False
        except ClientError as err:
            if _code(err) not in _MISSING:
                with aws_errors(f"read s3://{bucket}/{key} (s3:HeadObject)"):
                    raise
        with aws_errors(f"upload s3://{bucket}/{key} (s3:PutObject)"):
            self._s3.put_object(
                Bucket=bucket, Key=key, Body=data, ContentType=content_type, ExpectedBucketOwner=self.account
            )
        return True

    def template_url(self, bucket: str, key: str) -> str:
        """The HTTPS URL CloudFormation reads a template from (path style: any bucket name works, dots included)."""
        suffix = "amazonaws.com.cn" if self.region.startswith("cn-") else "amazonaws.com"
        return f"https://s3.{self.region}.{suffix}/{bucket}/{key}"
