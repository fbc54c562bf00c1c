"""One adapter framework for the six agencies: gRPC server over the agency's own database."""
