"""The CloudFormation contract of dbscale's custom resources, apart from the resources themselves.

A resource type (in :mod:`dbscale.handlers`) implements :class:`ResourceType` (check a request,
make progress) and declares its properties as a schema of :class:`Prop`; ``Provider(MyType()).handle``
is its Lambda handler. Everything else is here, one job per module:

* :mod:`~dbscale.cfn.request`: the event, read strictly (:class:`Request`);
* :mod:`~dbscale.cfn.resource`: what a resource type implements (:class:`ResourceType`, :class:`Progress`);
* :mod:`~dbscale.cfn.schema`: property schemas (:class:`Prop`, :func:`parse`), shared with the constructs;
* :mod:`~dbscale.cfn.runtime`: the Lambda entry (:class:`Provider`) and what the runtime guarantees;
* :mod:`~dbscale.cfn.invocation`: one invocation, a delivery or a check;
* :mod:`~dbscale.cfn.outcome`: the outcome and what it owes (the answer, the signal);
* :mod:`~dbscale.cfn.execution`: the invocation's Step Functions execution;
* :mod:`~dbscale.cfn.state`: what travels between invocations, and what one invocation shares;
* :mod:`~dbscale.cfn.answer`: the one response to the ResponseURL, retries, the FAILED Reason;
* :mod:`~dbscale.cfn.signal`: completion signals to a wait condition handle;
* :mod:`~dbscale.cfn.workflow`: the Step Functions state machine of long operations.

Layers: ``dbscale.core`` <- ``dbscale.cfn`` <- ``dbscale.handlers`` <- ``dbscale.constructs``.
"""

from .answer import failure_reason
from .request import Request
from .resource import Progress, ResourceType
from .runtime import LOG, Provider
from .schema import Prop, immutable_changes, parse

__all__ = [
    "LOG",
    "Progress",
    "Prop",
    "Provider",
    "Request",
    "ResourceType",
    "failure_reason",
    "immutable_changes",
    "parse",
]
