"""Sunset on a laptop: the sandbox (moto + the real state machine + the real handlers).

Development-only: importing this needs the `dev` extra (moto, PyYAML).
"""

from sunset.executions import Run
from sunset.local.sandbox import Sandbox, SandboxError

__all__ = ["Run", "Sandbox", "SandboxError"]
