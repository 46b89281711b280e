"""Built-in LinkedIn Marketing API sandbox (a WSGI app) for local mode and tests.

See ``/work/shared/reference/linkedin-api.md`` section 9 for the behaviour it imitates.
"""

from localmode.sandbox.app import LinkedInSandbox
from localmode.sandbox.config import SandboxConfig

__all__ = ["LinkedInSandbox", "SandboxConfig"]
