"""What the providers and clusters of one stack share, kept per stack so that node is asked once:
:class:`StackState` (the stack's environment, its singleton providers, immutable jsii values) and
the one code asset of the stack's functions (:func:`shared_code`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from aws_cdk import Stack
from aws_cdk import aws_lambda as lambda_

from .._asset import staged_handler_code

if TYPE_CHECKING:
    from ._base import ClusterProvider

T = TypeVar("T")


class StackState:
    """What the providers and clusters of one stack share, so that node is asked once per stack.

    Every jsii call is a round trip to node (~0.3 ms). Kept here: the stack's environment, its
    singleton providers, and immutable jsii values (a Duration, a Runtime, a principal) that
    every provider or cluster of the stack would otherwise ask for again. Nothing is shared
    between stacks, let alone apps.
    """

    __slots__ = ("env", "providers", "stack", "values")

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.env: tuple[str, str, str] | None = None
        self.providers: dict[str, ClusterProvider] = {}
        self.values: dict[str, Any] = {}

    def value(self, name: str, make: Callable[[], T]) -> T:
        """``make()``, made once per stack."""
        if name not in self.values:
            self.values[name] = make()
        return cast(T, self.values[name])


# Keyed like _CODE below (id of the stack, checked against the stored stack).
_STACKS: dict[int, StackState] = {}


def stack_state(stack: Stack) -> StackState:
    """The :class:`StackState` of ``stack``, made on first use."""
    state = _STACKS.get(id(stack))
    if state is None or state.stack is not stack:
        state = _STACKS[id(stack)] = StackState(stack)
    return state


_CODE: dict[int, tuple[Stack, lambda_.Code]] = {}


def shared_code(stack: Stack) -> lambda_.Code:
    """One asset per stack for both providers (an AssetCode binds to a single stack).

    Keyed by the stack object itself (ids are checked against the stored stack, since Python may
    reuse the id of a collected one); the cache lives only as long as the process.
    """
    entry = _CODE.get(id(stack))
    if entry is None or entry[0] is not stack:
        entry = _CODE[id(stack)] = (stack, lambda_.Code.from_asset(staged_handler_code()))
    return entry[1]
