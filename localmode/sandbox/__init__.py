"""Built-in LinkedIn Marketing API sandbox (a WSGI app) for local mode and tests.

docs/integrations/linkedin.md holds the behaviour it imitates.
"""

from localmode.sandbox.app import LinkedInSandbox
from localmode.sandbox.config import SandboxConfig

__all__ = ["LinkedInSandbox", "SandboxConfig"]
