"""The errors Frida raises for a call on a device, session or script that did not work out.

The agent package catches exactly these at its boundary (STYLE.md 7): a capture session
turns them into :class:`~harness.errors.AgentError`, or suppresses them where a failed
step must not stop a teardown.
"""

from __future__ import annotations

import frida

FRIDA_ERRORS: tuple[type[Exception], ...] = (
    frida.ProcessNotFoundError, frida.ProcessNotRespondingError, frida.PermissionDeniedError,
    frida.InvalidOperationError, frida.InvalidArgumentError, frida.NotSupportedError,
    frida.TransportError, frida.TimedOutError, frida.ExecutableNotFoundError,
    frida.ExecutableNotSupportedError, frida.RPCException, frida.ServerNotRunningError,
)
