"""The audit trail's trust core: canonical entries, RFC 6962 Merkle tree, C2SP signed notes.

Everything in this package is IO-free: no gRPC, no database, no files. Stores,
the gateway and the offline verifier wrap these modules; they never leak into
them. An auditor's verifier needs nothing but this package and a public key.
"""
