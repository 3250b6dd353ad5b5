"""Fill moto 5.2's CloudFormation and S3 gaps that ``dbscale providers deploy`` meets, as strict as AWS.

* ``ExecuteChangeSet`` applies the resources but never builds the stack's outputs or registers its
  exports: ``DescribeStacks`` shows no ``Outputs`` and ``ListExports`` nothing. Here the outputs are
  rebuilt from the executed template and the exports follow them (added, changed, removed).
* ``CreateChangeSet`` of a name the stack already has, or of type CREATE for a stack that exists, makes
  a second change set or even a second stack of the same name; AWS answers ``AlreadyExistsException``.
* ``CreateChangeSet`` accepts a template with IAM resources without ``CAPABILITY_IAM``; AWS answers
  ``InsufficientCapabilitiesException``.
* Executed change sets: AWS removes every *other* change set of the stack once one is executed, and
  refuses to execute one twice (``InvalidChangeSetStatus``); moto keeps them all and executes again.
* Idempotency tokens: a ``CreateChangeSet`` with a ``ClientToken``, or an ``ExecuteChangeSet`` with a
  ``ClientRequestToken``, that AWS has seen is answered as the first one was (what makes botocore's
  retry of a request whose answer was lost safe); moto ignores both.
* Stack events: moto records only the stack's own; here each resource of an executed change set
  gets its ``*_IN_PROGRESS`` and ``*_COMPLETE`` events, as AWS reports them, so progress is visible.
* ``ListImports``: moto has no importers at all (it raises for every export); here it answers from
  the ``Fn::ImportValue`` of the stacks that exist, with AWS's "is not imported by any stack" error
  otherwise. ``DeleteStack`` of a stack whose export is imported is accepted and then refused as on
  AWS: the stack keeps its status, with the reason in ``StackStatusReason``.
* Generated Lambda function names: moto makes ``<stack>-<logical id>-<suffix>`` of any length; AWS
  keeps a generated name within Lambda's 64 characters (truncating the stack and logical id part).
  The providers name their state machines after their functions, within Step Functions' 80.
* S3 bucket policies: moto evaluates a statement's ``Condition`` without any request context, and a
  condition that does not match turns even a Deny into DENIED, so a TLS-only policy
  (``Deny`` unless ``aws:SecureTransport``) refuses every request. Here requests carry
  ``aws:SecureTransport=true`` (every AWS SDK call is HTTPS) and a statement whose condition does not
  match does not apply, as in IAM's evaluation logic.
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any

from moto.cloudformation.exceptions import CloudFormationError, ValidationError
from moto.cloudformation.models import CloudFormationBackend, Event, Stack
from moto.iam.access_control import IAMPolicyStatement, PermissionResult
from moto.s3.models import FakeBucket

_installed = False
LAMBDA_NAME_MAX = 64
IAM_TYPES = ("AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::User", "AWS::IAM::Group")


class InsufficientCapabilities(CloudFormationError):
    code = "InsufficientCapabilitiesException"


class AlreadyExists(CloudFormationError):
    code = "AlreadyExistsException"


class InvalidChangeSetStatus(CloudFormationError):
    code = "InvalidChangeSetStatus"


class ChangeSetNotFound(CloudFormationError):
    code = "ChangeSetNotFoundException"


def _resource_event(stack: Stack, logical_id: str, resource_type: str, status: str) -> None:
    event = Event(
        stack_id=stack.stack_id,
        stack_name=stack.name,
        logical_resource_id=logical_id,
        physical_resource_id=logical_id,
        resource_type=resource_type,
        resource_status=status,
        resource_status_reason=None,
        resource_properties=None,
    )
    stack.events.append(event)


def _conditions_match(conditions: dict[str, dict[str, Any]], context: dict[str, str]) -> bool:
    """IAM's condition evaluation for the operators the providers' bucket policy uses (moto ignores
    ``Bool``); any other operator fails loudly rather than being ignored."""
    for operator, pairs in conditions.items():
        for key, expected in pairs.items():
            wanted = [str(v) for v in (expected if isinstance(expected, list) else [expected])]
            actual = context.get(key)
            if actual is None:
                return False
            if operator == "Bool":
                if actual.lower() not in [w.lower() for w in wanted]:
                    return False
            elif operator == "StringEquals":
                if actual not in wanted:
                    return False
            elif operator == "StringLike":
                if not any(fnmatch.fnmatchcase(actual, w) for w in wanted):
                    return False
            else:
                raise NotImplementedError(f"tests/fakes/cloudformation.py does not evaluate condition {operator}")
    return True


def _imports_of(template: dict[str, Any]) -> set[str]:
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "Fn::ImportValue" and isinstance(item, str):
                    found.add(item)
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(template)
    return found


def install_cloudformation_shims() -> None:
    """Install the shims once per process (idempotent)."""
    global _installed
    if _installed:
        return
    original_execute = CloudFormationBackend.execute_change_set
    from moto.cloudformation.responses import CloudFormationResponse

    original_create = CloudFormationResponse.create_change_set
    original_execute_response = CloudFormationResponse.execute_change_set
    original_delete = CloudFormationBackend.delete_stack

    answered: dict[tuple[str, str, str], Any] = {}

    def create_change_set(self: Any) -> Any:
        token = self._get_param("ClientToken")
        key = (self.current_account, self.region, f"create:{token}")
        if token and key in answered:
            return answered[key]
        result = _create_change_set(self)
        if token:
            answered[key] = result
        return result

    def execute_change_set_response(self: Any) -> Any:
        token = self._get_param("ClientRequestToken")
        key = (self.current_account, self.region, f"execute:{token}")
        if token and key in answered:
            return answered[key]
        result = original_execute_response(self)
        if token:
            answered[key] = result
        return result

    def _create_change_set(self: Any) -> Any:
        body = self._get_param("TemplateBody")
        url = self._get_param("TemplateURL")
        template = body or (self._get_stack_from_s3_url(url) if url else "")
        capabilities = set(self._get_param("Capabilities", []) or [])
        parsed = json.loads(template) if template and template.lstrip().startswith("{") else {}
        types = {r.get("Type") for r in parsed.get("Resources", {}).values()}
        if types & set(IAM_TYPES) and not {"CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"} & capabilities:
            raise InsufficientCapabilities("Requires capabilities : [CAPABILITY_IAM]")
        stack_name = self._get_param("StackName")
        name = self._get_param("ChangeSetName")
        live = [
            st
            for st in self.cloudformation_backend.stacks.values()
            if st.name == stack_name and not st.status.startswith("DELETE_COMPLETE")
        ]
        for stack in live:
            if any(
                c.change_set_name == name and c.stack_id == stack.stack_id
                for c in self.cloudformation_backend.change_sets.values()
            ):
                raise AlreadyExists(f"ChangeSet [{name}] already exists")
            if self._get_param("ChangeSetType") == "CREATE":
                if stack.status != "REVIEW_IN_PROGRESS":
                    raise AlreadyExists(f"Stack [{stack_name}] already exists")
                raise NotImplementedError("the fake does not model a second CREATE change set on a stack under review")
        return original_create(self)

    def execute_change_set(self: CloudFormationBackend, change_set_name: str, stack_name: str | None = None) -> None:
        change_set = self.change_sets.get(change_set_name) or next(
            (c for c in self.change_sets.values() if c.change_set_name == change_set_name), None
        )
        if change_set is None:  # AWS: ChangeSetNotFoundException (e.g. removed by another's execution)
            raise ChangeSetNotFound(f"ChangeSet [{change_set_name}] does not exist")
        if change_set.execution_status == "EXECUTE_COMPLETE":
            raise InvalidChangeSetStatus(
                f"ChangeSet [{change_set_name}] cannot be executed in its current status of [EXECUTE_COMPLETE]"
            )
        stack = self.stacks[change_set.stack_id]
        before = {e.name for e in stack.exports}
        verb = "CREATE" if change_set.change_set_type == "CREATE" else "UPDATE"
        original_execute(self, change_set_name, stack_name)
        if isinstance(stack.template, dict):
            stack.template_dict = stack.template
        else:
            stack._parse_template()
        stack.output_map = stack._create_output_map()
        for logical_id, resource in stack.template_dict.get("Resources", {}).items():
            _resource_event(stack, logical_id, resource.get("Type", ""), f"{verb}_IN_PROGRESS")
            _resource_event(stack, logical_id, resource.get("Type", ""), f"{verb}_COMPLETE")
        # The stack's own COMPLETE event comes last, as on AWS.
        own = [
            e for e in stack.events if e.logical_resource_id == stack.name and e.resource_status.endswith("COMPLETE")
        ]
        if own:
            stack.events.remove(own[-1])
            stack.events.append(own[-1])
        # AWS deletes every other change set of the stack once one is executed.
        for key in [k for k, c in self.change_sets.items() if c.stack_id == stack.stack_id and c is not change_set]:
            del self.change_sets[key]
        after = {e.name: e for e in stack.exports}
        for name in before - set(after):
            self.exports.pop(name, None)
        self.exports.update(after)

    def list_imports(self: CloudFormationBackend, export_name: str) -> list[str]:
        users = [
            s.name
            for s in self.stacks.values()
            if not s.status.startswith("DELETE_COMPLETE") and export_name in _imports_of(s.template_dict)
        ]
        if not users:
            raise ValidationError(message=f"Export '{export_name}' is not imported by any stack.")
        return users

    def delete_stack(self: CloudFormationBackend, name_or_stack_id: str) -> None:
        stack = next(
            (
                s
                for s in self.stacks.values()
                if name_or_stack_id in (s.name, s.stack_id) and not s.status.startswith("DELETE_COMPLETE")
            ),
            None,
        )
        if stack is not None:
            for export in stack.exports:
                users = [
                    s.name
                    for s in self.stacks.values()
                    if s is not stack and export.name in _imports_of(s.template_dict)
                ]
                if users:
                    # AWS accepts the delete, then refuses it: the stack keeps its status, with the
                    # reason in StackStatusReason and an event (no DELETE_FAILED).
                    reason = f"Export {export.name} cannot be deleted as it is in use by {' and '.join(users)}"
                    stack._add_stack_event("DELETE_IN_PROGRESS", resource_status_reason="User Initiated")
                    stack._add_stack_event(stack.status, resource_status_reason=reason)
                    stack.stack_status_reason = reason
                    return
        original_delete(self, name_or_stack_id)

    def get_permission(self: FakeBucket, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        document = json.loads(self.policy.decode() if isinstance(self.policy, bytes) else self.policy)
        statements = document["Statement"] if isinstance(document["Statement"], list) else [document["Statement"]]
        context = {"aws:SecureTransport": "true"}
        permitted = False
        for statement in statements:
            if statement.get("Condition"):
                if not _conditions_match(statement["Condition"], context):
                    continue  # a statement whose condition does not match does not apply
                statement = {k: v for k, v in statement.items() if k != "Condition"}
            result = IAMPolicyStatement(statement).is_action_permitted(action, resource)
            if result == PermissionResult.DENIED:
                return result
            permitted = permitted or result == PermissionResult.PERMITTED
        return PermissionResult.PERMITTED if permitted else PermissionResult.NEUTRAL

    from moto.cloudformation import parsing

    original_name = parsing.generate_resource_name

    def generate_resource_name(resource_type: str, stack_name: str, logical_id: str) -> str:
        if resource_type != "AWS::Lambda::Function":
            return original_name(resource_type, stack_name, logical_id)
        suffix = parsing.random_suffix()
        return f"{f'{stack_name}-{logical_id}'[: LAMBDA_NAME_MAX - len(suffix) - 1].rstrip('-')}-{suffix}"

    parsing.generate_resource_name = generate_resource_name
    if hasattr(CloudFormationBackend, "list_imports"):
        raise RuntimeError("moto now has ListImports: review tests/fakes/cloudformation.py")
    CloudFormationResponse.create_change_set = create_change_set  # type: ignore[method-assign]
    CloudFormationResponse.execute_change_set = execute_change_set_response  # type: ignore[method-assign]
    CloudFormationBackend.execute_change_set = execute_change_set  # type: ignore[method-assign]
    CloudFormationBackend.delete_stack = delete_stack  # type: ignore[method-assign]
    CloudFormationBackend.list_imports = list_imports  # type: ignore[attr-defined]
    FakeBucket.get_permission = get_permission  # type: ignore[method-assign]
    _install_list_imports_response()
    _installed = True


def _install_list_imports_response() -> None:
    from moto.cloudformation.responses import CloudFormationResponse

    if hasattr(CloudFormationResponse, "list_imports"):
        raise RuntimeError("moto now answers ListImports: review tests/fakes/cloudformation.py")

    def list_imports(self: CloudFormationResponse) -> str:
        export_name = self._get_param("ExportName")
        users = self.cloudformation_backend.list_imports(export_name)
        members = "".join(f"<member>{name}</member>" for name in users)
        return (
            '<ListImportsResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">'
            f"<ListImportsResult><Imports>{members}</Imports></ListImportsResult>"
            "<ResponseMetadata><RequestId>dbscale-fake</RequestId></ResponseMetadata></ListImportsResponse>"
        )

    CloudFormationResponse.list_imports = list_imports  # type: ignore[attr-defined]
