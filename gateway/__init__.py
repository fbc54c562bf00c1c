"""The central federated-lookup gateway: identity, validation, policy, fan-out, release."""
