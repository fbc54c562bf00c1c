"""Errors of policy bundles and policy evaluation. Messages never carry input values."""

from __future__ import annotations

__all__ = ["PolicyBundleError", "PolicyEvaluationError", "UndefinedDecision"]


class PolicyBundleError(Exception):
    """A bundle file is malformed or unsafe; the message names the file and the field (or line)."""


class PolicyEvaluationError(Exception):
    """An engine failed to evaluate a decision (the gateway denies: fail closed)."""


class UndefinedDecision(PolicyEvaluationError):
    """The decision rule was undefined for this input (the gateway denies: fail closed)."""
