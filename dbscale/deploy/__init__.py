"""Deploy the custom resource providers without the CDK: a CloudFormation stack made from the installed package.

``dbscale providers deploy`` is this package on the command line. Nothing here imports the CDK:

* :mod:`.bundle` — the providers' Lambda code, zipped reproducibly from the installed ``dbscale``.
* :mod:`.template` — the providers' template (synthesized from the constructs when the package is
  built, shipped as package data) rendered for a name prefix, guardrails and a code location.
* :mod:`.stack` — the S3 bucket for the code, the change set, live stack events, delete.
"""

from .bundle import Bundle, build_bundle, source_files
from .events import StackEvent
from .stack import DeleteResult, DeployResult, PackageResult, ProvidersDeployment
from .template import DEFAULT_PREFIX, DEFAULT_STACK_NAME, EXPORT_NAMES, render_template

__all__ = [
    "DEFAULT_PREFIX",
    "DEFAULT_STACK_NAME",
    "EXPORT_NAMES",
    "Bundle",
    "DeleteResult",
    "DeployResult",
    "PackageResult",
    "ProvidersDeployment",
    "StackEvent",
    "build_bundle",
    "render_template",
    "source_files",
]
