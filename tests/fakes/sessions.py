"""boto3 sessions for tests that share one botocore data loader.

Every new boto3 session parses the service models (the Redshift one is megabytes of JSON) again;
sharing the loader makes a fresh session, e.g. one per simulated Lambda invocation, cheap. The
sharing is the product's own (:func:`dbscale.core.aws.new_session`), which the CLI and fleet reads use.
"""

from __future__ import annotations

import boto3

from dbscale.core.aws import new_session


def fresh_session(region_name: str = "us-east-1") -> boto3.Session:
    """A new boto3 session (own credentials, events and clients) on the shared model loader."""
    return new_session(region_name=region_name)
