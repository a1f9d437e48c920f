"""The exceptions: one class per range of status codes, each carrying the status and the loader's message."""

from typing import Union

from ._constants import Status


class Error(Exception):
    """A failed call.

    `status` is the `Status` (or the plain number, for a value this package does not know), `status_name` its
    C name, and `message` the full message, which names the function and the culprit (file, field, plugin,
    symbol or argument).
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(status, message)
        self.status: Union[Status, int] = _known(status)
        self.message = message

    @property
    def status_name(self) -> str:
        if isinstance(self.status, Status):
            return self.status.c_name
        return f"AISOPOD_STATUS_{int(self.status)}"

    def __str__(self) -> str:
        return f"{self.status_name} ({int(self.status)}): {self.message}"


class CallerError(Error):
    """Statuses 1-99: the call itself was wrong (an argument, the plugin's state, an unknown id)."""


class ClosedError(CallerError, ValueError):
    """A call on a handle after its `close()`: `Status.NULL_ARGUMENT`, as the C API gives for a NULL handle."""


class ManifestError(Error):
    """Statuses 100-199: a manifest, a search directory, the host version against a manifest's range, or the
    host's trust settings (a plugin file someone else could have written, a plugin its lists keep out)."""


class PluginLoadError(Error):
    """Statuses 200-299: the plugin's library or the plugin struct failed a check while loading."""


class PluginRuntimeError(Error):
    """Statuses 300-399: plugin code failed (`init`, or a handler returned non-zero)."""


class HelperError(Error):
    """Statuses 400-499: the helper process that runs plugins out of this process cannot be found or started,
    is another version, or failed outside plugin code; or the sandbox policy requires a sandbox the kernel
    cannot give (`SANDBOX_UNAVAILABLE`)."""


class InternalError(Error):
    """Statuses 900 and up: a fault inside the loader, caught at the API boundary. The loader stays usable."""


class LoaderLibraryError(OSError):
    """libaisopod_loader could not be found or opened, or it is not a library this package can drive. The
    message says every place that was tried and why each failed."""


_RANGES = (
    (1, 100, CallerError),
    (100, 200, ManifestError),
    (200, 300, PluginLoadError),
    (300, 400, PluginRuntimeError),
    (400, 500, HelperError),
)


def _known(status: int) -> Union[Status, int]:
    try:
        return Status(status)
    except ValueError:
        return int(status)


def error_for(status: int, message: str) -> Error:
    """The exception for a failed call's status, of the class that status's range belongs to."""
    for low, high, cls in _RANGES:
        if low <= status < high:
            return cls(status, message)
    if status >= 900:
        return InternalError(status, message)
    return Error(status, message)
