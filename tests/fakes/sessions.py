"""boto3 sessions for tests that share one botocore data loader.

Every new boto3 session parses the service models (the Redshift one is megabytes of JSON) again;
sharing the loader makes a fresh session, e.g. one per simulated Lambda invocation, cheap.
"""

from __future__ import annotations

import boto3
import botocore.loaders
import botocore.session

_LOADER = botocore.loaders.create_loader()


def fresh_session(region_name: str = "us-east-1") -> boto3.Session:
    """A new boto3 session (own credentials, events and clients) on the shared model loader."""
    core = botocore.session.get_session()
    core.register_component("data_loader", _LOADER)
    return boto3.Session(botocore_session=core, region_name=region_name)
