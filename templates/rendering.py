"""Turning an approved version plus variable values into the text the handset receives."""

from __future__ import annotations

from django.utils.translation import get_language
from django.utils.translation import gettext as _

from compliance.rules.variables import VARIABLE_PATTERN, value_error
from smsportal.errors import ServiceError


def _pick(problem) -> str:
    return problem.zh if (get_language() or "zh").lower().startswith("zh") else problem.en


def signature_prefix(name: str) -> str:
    return f"【{name}】"


def validate_variables(*, version, variables: dict) -> dict[str, list[str]]:
    """Errors per variable name (empty dict when the values fit the version's declarations)."""
    declared = {spec["name"]: spec for spec in version.variables or []}
    errors: dict[str, list[str]] = {}
    if not isinstance(variables, dict):
        return {"variables": [_("Variables must be an object of name → value.")]}
    for name in variables:
        if name not in declared:
            errors.setdefault(str(name), []).append(_("Unknown variable; this template does not declare it."))
    for name, spec in declared.items():
        if name not in variables or variables[name] is None:
            errors.setdefault(name, []).append(_("This variable is required."))
            continue
        value = variables[name]
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            errors.setdefault(name, []).append(_("Must be text or a number."))
            continue
        problem = value_error(spec.get("type", "text"), str(value).strip(), spec.get("max_length"))
        if problem:
            errors.setdefault(name, []).append(_pick(problem))
    return errors


def fill_body(body: str, values: dict) -> str:
    return VARIABLE_PATTERN.sub(lambda m: str(values.get(m.group(1), m.group(0))).strip(), body)


def render_message(*, version, variables: dict) -> str:
    """The full text with the 【signature】 prefix; raises ServiceError invalid_variables."""
    errors = validate_variables(version=version, variables=variables)
    if errors:
        raise ServiceError("invalid_variables", _("Some variables are missing or invalid."), fields=errors)
    return signature_prefix(version.template.signature.name) + fill_body(version.body, variables)


def render_preview(*, version_body: str, variables: list[dict], signature_name: str) -> str:
    """The preview text: every variable replaced by its declared example."""
    examples = {spec.get("name"): spec.get("example", "") for spec in variables or []}
    return signature_prefix(signature_name) + fill_body(version_body, examples)
