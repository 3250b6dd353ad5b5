"""Deploy the custom resource providers without the CDK: a CloudFormation stack made from the installed package.

``dbscale providers deploy`` is this package on the command line. Nothing here imports the CDK:

* :mod:`.bundle` — the providers' Lambda code, zipped reproducibly from the installed ``dbscale``.
* :mod:`.template` — the providers' template (synthesized from the constructs when the package is
  built, shipped as package data) rendered for a name prefix, guardrails and a code location.
* :mod:`.stack` — the S3 bucket for the code, the change set, live stack events, delete.
* :mod:`.stackset` — the same providers in every account and region of some organizational units
  (a service-managed StackSet; :mod:`.stackset_template` is what it shares with ``ProvidersStackSet``),
  optionally with the tag autoscaler (:mod:`.autoscaler_template`).
"""

from .bundle import Bundle, build_bundle, source_files
from .events import StackEvent
from .stack import DeleteResult, DeployResult, PackageResult, ProvidersDeployment
from .stackset import InstanceProblem, StackSetDeleteResult, StackSetDeployment, StackSetResult
from .stackset_template import OperationPreferences
from .template import DEFAULT_PREFIX, DEFAULT_STACK_NAME, EXPORT_NAMES, render_template

__all__ = [
    "DEFAULT_PREFIX",
    "DEFAULT_STACK_NAME",
    "EXPORT_NAMES",
    "Bundle",
    "DeleteResult",
    "DeployResult",
    "InstanceProblem",
    "OperationPreferences",
    "PackageResult",
    "ProvidersDeployment",
    "StackEvent",
    "StackSetDeleteResult",
    "StackSetDeployment",
    "StackSetResult",
    "build_bundle",
    "render_template",
    "source_files",
]
