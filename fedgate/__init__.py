"""fedgate: a federated information-sharing gateway for border agencies."""

__version__ = "0.1.0"
