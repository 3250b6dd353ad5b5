"""The CloudFormation StackSet calls answered from :mod:`tests.fakes.stacksets` instead of moto's model."""

from __future__ import annotations

import json
from typing import Any

from moto.cloudformation.exceptions import ValidationError
from moto.core.responses import ActionResult, EmptyResult

from .stacksets import (
    IAM_TYPES,
    TEMPLATE_BODY_MAX,
    FakeInstance,
    FakeStackSet,
    StackSetError,
    StackSets,
    check_preferences,
    instance_stack_id,
    now,
)

STACKSETS = StackSets()
_installed = False


def _find(self: Any, params: dict[str, Any]) -> FakeStackSet:
    key = (self.current_account, self.region, params.get("StackSetName", ""))
    found = STACKSETS.sets.get(key)
    if found is None:
        raise StackSetError("StackSetNotFoundException", f"StackSet {key[2]} not found")
    return found


def _template(self: Any, params: dict[str, Any]) -> dict[str, Any]:
    body, url = params.get("TemplateBody"), params.get("TemplateURL")
    if bool(body) == bool(url):
        raise ValidationError(message="Exactly one of TemplateBody or TemplateURL must be specified")
    if body and len(body.encode()) > TEMPLATE_BODY_MAX:
        raise ValidationError(
            message=f"1 validation error detected: Value at 'templateBody' failed to satisfy constraint: "
            f"Member must have length less than or equal to {TEMPLATE_BODY_MAX}"
        )
    template: dict[str, Any] = json.loads(body or self._get_stack_from_s3_url(url))
    types = {r.get("Type") for r in template.get("Resources", {}).values()}
    if types & set(IAM_TYPES) and not {"CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"} & set(params.get("Capabilities", [])):
        raise StackSetError("InsufficientCapabilitiesException", "Requires capabilities : [CAPABILITY_IAM]")
    return template


def _settings(params: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "Parameters",
        "Capabilities",
        "AutoDeployment",
        "ManagedExecution",
        "Tags",
        "Description",
        "PermissionModel",
    )
    return {k: params[k] for k in keys if k in params}


def _seen(params: dict[str, Any]) -> ActionResult | None:
    operation = STACKSETS.operations.get(params.get("OperationId", ""))
    return ActionResult({"OperationId": operation.id}) if operation is not None else None


def create_stack_set(self: Any) -> ActionResult:
    params = self._get_params()
    call_as = params.get("CallAs", "SELF")
    if params.get("PermissionModel") != "SERVICE_MANAGED":
        raise NotImplementedError("the fake models SERVICE_MANAGED StackSets only")
    STACKSETS.check_caller(self.current_account, call_as)
    name = params["StackSetName"]
    key = (self.current_account, self.region, name)
    token = params.get("ClientRequestToken")
    if key in STACKSETS.sets:
        if token and STACKSETS.tokens.get(token) == STACKSETS.sets[key].id:
            return ActionResult({"StackSetId": STACKSETS.sets[key].id})
        raise StackSetError("NameAlreadyExistsException", f"StackSet {name} already exists")
    if "AutoDeployment" not in params:
        raise ValidationError(message="AutoDeployment must be specified for SERVICE_MANAGED StackSets")
    made = FakeStackSet(
        name=name,
        admin=self.current_account,
        region=self.region,
        template=_template(self, params),
        settings=_settings(params),
    )
    STACKSETS.sets[key] = made
    if token:
        STACKSETS.tokens[token] = made.id
    return ActionResult({"StackSetId": made.id})


def describe_stack_set(self: Any) -> ActionResult:
    params = self._get_params()
    STACKSETS.check_caller(self.current_account, params.get("CallAs", "SELF"))
    found = _find(self, params)
    described = {
        "StackSetName": found.name,
        "StackSetId": found.id,
        "Status": "ACTIVE",
        "TemplateBody": json.dumps(found.template),
        "StackSetARN": f"arn:aws:cloudformation:{found.region}:{found.admin}:stackset/{found.name}:{found.id}",
        **found.settings,
        # moto's serializer turns these two back into AWS's lists of key/value pairs.
        "Parameters": {p["ParameterKey"]: p["ParameterValue"] for p in found.settings.get("Parameters", [])},
        "Tags": {t["Key"]: t["Value"] for t in found.settings.get("Tags", [])},
    }
    return ActionResult({"StackSet": described})


def update_stack_set(self: Any) -> ActionResult:
    params = self._get_params()
    org = STACKSETS.check_caller(self.current_account, params.get("CallAs", "SELF"))
    found = _find(self, params)
    again = _seen(params)
    if again is not None:
        return again
    prefs = check_preferences(params.get("OperationPreferences", {}))
    found.template = _template(self, params)
    found.settings.update(_settings(params))
    touched = [(i, STACKSETS.deploy(found, i, org.org.id)) for i in found.instances.values()]
    operation_id = params.get("OperationId") or f"{now().timestamp()}"
    return ActionResult({"OperationId": STACKSETS.operation(found, "UPDATE", operation_id, touched, prefs).id})


def create_stack_instances(self: Any) -> ActionResult:
    params = self._get_params()
    org = STACKSETS.check_caller(self.current_account, params.get("CallAs", "SELF"))
    found = _find(self, params)
    again = _seen(params)
    if again is not None:
        return again
    prefs = check_preferences(params.get("OperationPreferences", {}))
    ous = params.get("DeploymentTargets", {}).get("OrganizationalUnitIds", [])
    if params.get("Accounts") or not ous:
        raise ValidationError(
            message="StackSets with SERVICE_MANAGED permission model can only have OrganizationalUnit as target"
        )
    regions = params.get("Regions") or []
    if not regions:
        raise ValidationError(message="Regions must be specified")
    touched = []
    for account, ou in STACKSETS.accounts_under(org, ous):
        for region in regions:
            if (account, region) in found.instances:
                continue  # AWS leaves an existing instance as it is
            instance = found.instances[(account, region)] = FakeInstance(account=account, region=region, ou=ou)
            touched.append((instance, STACKSETS.deploy(found, instance, org.org.id)))
    operation_id = params.get("OperationId") or f"{now().timestamp()}"
    return ActionResult({"OperationId": STACKSETS.operation(found, "CREATE", operation_id, touched, prefs).id})


def delete_stack_instances(self: Any) -> ActionResult:
    from moto.cloudformation.models import cloudformation_backends

    from .cloudformation import _imports_of

    params = self._get_params()
    STACKSETS.check_caller(self.current_account, params.get("CallAs", "SELF"))
    found = _find(self, params)
    again = _seen(params)
    if again is not None:
        return again
    if "RetainStacks" not in params:
        raise ValidationError(message="RetainStacks must be specified")
    ous = set(params.get("DeploymentTargets", {}).get("OrganizationalUnitIds", []))
    regions = set(params.get("Regions") or [])
    touched = []
    for key, instance in list(found.instances.items()):
        if instance.ou not in ous or instance.region not in regions:
            continue
        backend = cloudformation_backends[instance.account][instance.region]
        users = [
            s.name
            for s in backend.stacks.values()
            if not s.status.startswith("DELETE_COMPLETE") and set(instance.exports) & _imports_of(s.template_dict)
        ]
        reason = f"Export cannot be deleted as it is in use by {' and '.join(users)}" if users else ""
        if reason:
            instance.status, instance.detailed, instance.reason = "OUTDATED", "FAILED", reason
        else:
            for name in instance.exports:
                backend.exports.pop(name, None)
            del found.instances[key]
        touched.append((instance, reason))
    prefs = check_preferences(params.get("OperationPreferences", {}))
    operation_id = params.get("OperationId") or f"{now().timestamp()}"
    return ActionResult({"OperationId": STACKSETS.operation(found, "DELETE", operation_id, touched, prefs).id})


def delete_stack_set(self: Any) -> Any:
    params = self._get_params()
    STACKSETS.check_caller(self.current_account, params.get("CallAs", "SELF"))
    found = _find(self, params)
    if found.instances:
        raise StackSetError("StackSetNotEmptyException", "StackSet is not empty")
    del STACKSETS.sets[(self.current_account, self.region, found.name)]
    return EmptyResult()


def list_stack_instances(self: Any) -> ActionResult:
    params = self._get_params()
    STACKSETS.check_caller(self.current_account, params.get("CallAs", "SELF"))
    found = _find(self, params)
    summaries = [
        {
            "StackSetId": found.id,
            "Region": i.region,
            "Account": i.account,
            "StackId": instance_stack_id(found, i.account, i.region),
            "Status": i.status,
            "StatusReason": i.reason,
            "StackInstanceStatus": {"DetailedStatus": i.detailed},
            "OrganizationalUnitId": i.ou,
            "DriftStatus": "NOT_CHECKED",
        }
        for i in found.instances.values()
    ]
    return ActionResult({"Summaries": summaries})


def describe_stack_set_operation(self: Any) -> ActionResult:
    params = self._get_params()
    STACKSETS.check_caller(self.current_account, params.get("CallAs", "SELF"))
    found = _find(self, params)
    operation = STACKSETS.operations.get(params.get("OperationId", ""))
    if operation is None or operation.stack_set != found.id:
        raise StackSetError("OperationNotFoundException", f"Operation {params.get('OperationId')} not found")
    operation.reads += 1
    status = "RUNNING" if operation.reads == 1 else operation.status
    described = {"OperationId": operation.id, "StackSetId": found.id, "Action": operation.action, "Status": status}
    return ActionResult({"StackSetOperation": described | operation.answer})


def list_stack_set_operation_results(self: Any) -> ActionResult:
    params = self._get_params()
    STACKSETS.check_caller(self.current_account, params.get("CallAs", "SELF"))
    _find(self, params)
    operation = STACKSETS.operations.get(params.get("OperationId", ""))
    if operation is None:
        raise StackSetError("OperationNotFoundException", f"Operation {params.get('OperationId')} not found")
    return ActionResult({"Summaries": operation.results})


def install_stackset_shims() -> None:
    """Answer the StackSet calls from the fake (once per process); reset it with :func:`reset_stacksets`."""
    global _installed
    if _installed:
        return
    from moto.cloudformation.responses import CloudFormationResponse

    for handler in (
        create_stack_set,
        describe_stack_set,
        update_stack_set,
        create_stack_instances,
        delete_stack_instances,
        delete_stack_set,
        list_stack_instances,
        describe_stack_set_operation,
        list_stack_set_operation_results,
    ):
        setattr(CloudFormationResponse, handler.__name__, handler)
    _installed = True


def reset_stacksets() -> StackSets:
    """Forget every StackSet (a test's moto state is fresh; so must this be). The fake, for ``fail()``."""
    STACKSETS.__init__()  # type: ignore[misc]
    return STACKSETS
