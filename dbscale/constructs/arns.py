"""ARNs for the IAM statements the constructs write, and the same ARNs as cdk-nag prints them in the
ids of its findings (pseudo parameters as ``<AWS::...>``), so that acknowledgments name them exactly."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Stack

from dbscale.core.limits import CLUSTER_IDENTIFIER_MAX_LENGTH

from ._support import is_token


@dataclass(frozen=True)
class StackArns:
    """ARNs in one stack's partition, region and account (tokens unless the stack's env is literal)."""

    partition: str
    region: str
    account: str

    @classmethod
    def of(cls, stack: Stack) -> StackArns:
        """The stack's partition, region and account (three round trips to node: read them once)."""
        return cls(stack.partition, stack.region, stack.account)

    def arn(self, service: str, resource: str) -> str:
        """``arn:<partition>:<service>:<region>:<account>:<resource>``."""
        return f"arn:{self.partition}:{service}:{self.region}:{self.account}:{resource}"

    def nag(self, service: str, resource: str) -> str:
        """The ARN as cdk-nag prints it in a finding id (``arn:<AWS::Partition>:...``)."""
        region = "<AWS::Region>" if is_token(self.region) else self.region
        account = "<AWS::AccountId>" if is_token(self.account) else self.account
        return f"arn:<AWS::Partition>:{service}:{region}:{account}:{resource}"


def instance_prefix(identifier: str) -> str:
    """Instance identifiers dbscale creates for a cluster start with this: ``<cluster>-<n>``, the
    cluster part shortened so the whole fits in 63 characters (``core.aurora.instance_identifier``)."""
    if is_token(identifier) or len(identifier) <= CLUSTER_IDENTIFIER_MAX_LENGTH - 4:
        return f"{identifier}-"
    return identifier[: CLUSTER_IDENTIFIER_MAX_LENGTH - 4]
