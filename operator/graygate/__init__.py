"""graygate: a Kubernetes operator that moves traffic to a canary step by step and puts it back the moment a check
fails. The package layout and its layering are described in the README's architecture section."""

__version__ = "0.1.0"
