"""What a custom resource type implements (the per-resource code in :mod:`dbscale.handlers`), and
what its steps answer; :class:`~dbscale.cfn.runtime.Provider` does the rest."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

from .request import Request
from .state import OperationState, ResourceState

if TYPE_CHECKING:
    from .runtime import Provider

R = TypeVar("R", bound=ResourceState)


@dataclass
class Progress:
    """A resource step's answer: ``done`` with the attributes, or still running."""

    physical_id: str
    done: bool
    data: dict[str, str] = field(default_factory=dict)
    detail: str = ""
    answer_early: bool = False
    """Not done, but AWS accepted the change: with a completion signal, answer SUCCESS now with
    ``data`` and signal the outcome later (without one, the runtime keeps waiting)."""


class ResourceType(Generic[R]):
    """What a custom resource type implements; the :class:`~dbscale.cfn.runtime.Provider` does the rest.

    ``R`` is the resource's own part of the state (:class:`~dbscale.cfn.state.ResourceState`)."""

    resource_type = "Custom::Unknown"
    state_type: type[R] = ResourceState  # type: ignore[assignment]  # the base keeps nothing of its own
    """The dataclass of what the resource keeps between invocations (``state.resource``; default:
    nothing of its own)."""
    signal_attributes: tuple[str, ...] = ()
    """The attributes a completion signal's Data carries, in this order (see :mod:`.signal`)."""

    def check_request(self, request: Request) -> None:
        """Check a request's properties without any AWS call; raise InvalidRequest naming the property.

        Called before the runtime's first AWS call, so a bad template fails at once and for free.
        Default: nothing (``step`` checks)."""

    def step(self, provider: Provider, request: Request, state: OperationState[R]) -> Progress:
        """Make as much progress as possible without waiting; keep what must survive in ``state.resource``.

        Before a call that may create a resource, set ``state.physical_id`` to its identifier."""
        raise NotImplementedError
