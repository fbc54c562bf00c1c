"""Policy bundles: MoUs as data, Rego rules, the engines that evaluate them, and legal-team tools.

IO-light core used by the gateway (which wraps an evaluator as its ``PolicyEngine``) and by
``fedgate policy …``. Nothing here imports ``gateway``.
"""
