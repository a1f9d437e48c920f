"""The Python face of the C API: Loader, PluginInfo, Diagnostic and Capability, each owning one C handle, and
the plain values a probe, the quarantine and an isolated plugin's usage give: ProbeVerdict, QuarantineEntry
and PluginUsage."""

import ctypes
import itertools
import json
import logging
import os
import threading
from ctypes import POINTER, byref, c_char_p, c_int32, c_int64, c_size_t, c_uint32, c_uint64, c_void_p
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, NamedTuple, Optional, Set, Tuple, TypeVar, Union

from ._bindings import (
    LOG_CALLBACK,
    SINK_WRITE,
    CapabilityHandle,
    DiagnosticHandle,
    LoaderHandle,
    PluginInfoHandle,
    CapabilityMetricsStruct,
    PluginMetricsStruct,
    PluginUsageStruct,
    ProbeResultsHandle,
    QuarantineEntryHandle,
    ResourceLimitsStruct,
    Sink,
)
from ._constants import (
    FilePolicy,
    Isolation,
    Kind,
    LogLevel,
    Permission,
    PluginState,
    SandboxPolicy,
    SignaturePolicy,
    Status,
)
from ._errors import CallerError, ClosedError, Error, error_for
from ._library import Library, PathArg, open_library

_logger = logging.getLogger("aisopod_loader")

Text = Union[str, bytes]
Data = Union[bytes, bytearray, memoryview, str]
LogCallback = Callable[[Union[LogLevel, int], str, str], Any]


class _Handle:
    """One C handle: freed exactly once, and never while a call through it is running.

    Every call takes the handle with `use()`, which counts the calls in flight per thread. `close()` refuses
    while any is in flight: from a callback on the same thread (`Status.REENTRANT`) or on another thread
    (`Status.BUSY`), where freeing would pull the handle from under the running call. The handle refers to
    no Python object that owns it, so the order in which the garbage collector finalizes owners does not
    matter.
    """

    __slots__ = ("pointer", "_free", "_type_name", "_lock", "_users")

    def __init__(self, pointer: Any, free: Callable[[Any], None], type_name: str) -> None:
        self.pointer = pointer
        self._free = free
        self._type_name = type_name
        self._lock = threading.Lock()
        self._users: Dict[int, int] = {}

    def use(self, what: str) -> "_Use":
        return _Use(self, what)

    @property
    def closed(self) -> bool:
        return self.pointer is None

    def close(self) -> None:
        with self._lock:
            pointer = self.pointer
            if pointer is None:
                return
            if self._users:
                if threading.get_ident() in self._users:
                    raise CallerError(
                        Status.REENTRANT,
                        f"{self._type_name}.close: a call on this {self._type_name} is running on this thread; "
                        "close it outside its callbacks",
                    )
                raise CallerError(
                    Status.BUSY,
                    f"{self._type_name}.close: calls on this {self._type_name} are running on "
                    f"{len(self._users)} other thread(s); close it after they return",
                )
            self.pointer = None
        self._free(pointer)


class _Use:
    """`with handle.use("Loader.load") as pointer:` the pointer, kept from being freed during the block."""

    __slots__ = ("_handle", "_what")

    def __init__(self, handle: _Handle, what: str) -> None:
        self._handle = handle
        self._what = what

    def __enter__(self) -> Any:
        handle = self._handle
        with handle._lock:
            if handle.pointer is None:
                raise ClosedError(Status.NULL_ARGUMENT, f"{self._what}: the {handle._type_name} is closed")
            thread = threading.get_ident()
            handle._users[thread] = handle._users.get(thread, 0) + 1
            return handle.pointer

    def __exit__(self, *exc_info: Any) -> None:
        handle = self._handle
        with handle._lock:
            thread = threading.get_ident()
            remaining = handle._users[thread] - 1
            if remaining:
                handle._users[thread] = remaining
            else:
                del handle._users[thread]


def _text(value: Text, what: str, argument: str) -> bytes:
    """A string argument as the C API takes it: UTF-8 without NUL bytes."""
    if isinstance(value, str):
        # Lone surrogates pass through as invalid UTF-8, for the library to report as INVALID_UTF8.
        data = value.encode("utf-8", "surrogatepass")
    elif isinstance(value, bytes):
        data = value
    else:
        raise TypeError(f"{what}: argument '{argument}' must be str or bytes, not {type(value).__name__}")
    return _no_nul(data, what, argument)


def _path(value: PathArg, what: str, argument: str) -> bytes:
    return _no_nul(os.fsencode(value), what, argument)


def _no_nul(data: bytes, what: str, argument: str) -> bytes:
    nul = data.find(b"\0")
    if nul >= 0:
        raise CallerError(Status.INVALID_ARGUMENT, f"{what}: argument '{argument}' contains a NUL byte at offset {nul}")
    return data


def _data(value: Data, what: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"{what}: argument 'data' must be bytes-like or str, not {type(value).__name__}")


def _decode(value: Optional[bytes]) -> Optional[str]:
    return None if value is None else value.decode("utf-8", "replace")


def _status(value: int) -> Union[Status, int]:
    """A status as a `Status`, or the plain number for a value this package does not know."""
    try:
        return Status(value)
    except ValueError:
        return int(value)


#: The largest deadline the C API takes, in milliseconds (`uint32_t`).
_MAX_TIMEOUT_MS = 2**32 - 1


def _unsigned(value: int, bits: int, what: str, argument: str) -> int:
    """An integer argument the C API takes as an unsigned `bits`-bit value: refused, naming it, outside that."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{what}: argument '{argument}' must be int, not {type(value).__name__}")
    if not 0 <= value < 2**bits:
        raise CallerError(
            Status.INVALID_ARGUMENT, f"{what}: argument '{argument}' is {value}, outside 0 to {2**bits - 1}"
        )
    return value


class _Output:
    """What one call's handlers write through the sink, collected into bytes.

    The sink's context is a key into `_outputs`, where the output is registered for the duration of the call
    (`with _Output() as output:`), so concurrent and nested calls each collect their own.
    """

    __slots__ = ("chunks", "error", "key", "sink")

    def __init__(self) -> None:
        self.chunks: List[bytes] = []
        self.error: Optional[BaseException] = None
        self.key = next(_output_keys)
        self.sink = Sink(self.key, _sink_write)

    def __enter__(self) -> "_Output":
        _outputs[self.key] = self
        return self

    def __exit__(self, *exc_info: Any) -> None:
        del _outputs[self.key]

    def raise_failure(self) -> None:
        """Re-raises an exception the sink caught (the handler then saw a refused write and failed)."""
        if self.error is not None:
            raise self.error

    def joined(self) -> bytes:
        return b"".join(self.chunks)


_outputs: Dict[int, _Output] = {}
_output_keys = itertools.count(1)


@SINK_WRITE  # type: ignore[untyped-decorator]
def _sink_write(context: Optional[int], data: int, length: int) -> int:
    output = _outputs.get(context or 0)
    if output is None:
        return 1  # A sink kept past its call: refuse the bytes.
    try:
        if length:
            output.chunks.append(ctypes.string_at(data, length))
        return 0
    except BaseException as e:  # noqa: B036 - nothing may cross into C; the caller re-raises it.
        output.error = e
        return 1


class Dependency(NamedTuple):
    """One entry of a manifest's `[dependencies]`: the plugin's id, the semver requirement on it, as the loader
    reads it ("1.2" is "^1.2"), and whether the plugin loads without it."""

    id: str
    requirement: str
    optional: bool


class Emitted(NamedTuple):
    """What `Loader.emit` returns: how many hook handlers ran, and what they wrote, in load order."""

    handled: int
    output: bytes


@dataclass(frozen=True)
class ProbeVerdict:
    """The verdict on one plugin probed in a helper process (`Loader.probe`), copied out of the C API.

    `status` is `Status.OK` when every step passed, else the failure (`PLUGIN_CRASHED`, `TIMEOUT`,
    `ABI_MISMATCH`, `INIT_FAILED`, ...); `message` names the plugin and the step ("" when it passed);
    `failed_step` is that step's name ("dlopen", "init", ...) or None. `steps` lists (name, nanoseconds) for
    every step that ran, the failed one included; `capabilities` maps every `Kind` to the names the plugin
    registered. `signal` is the signal that killed its helper process (0 when none), `exit_code` the code it
    exited with (-1 when it did not exit), `stderr` the helper's last 4 KiB of stderr when the plugin ended it.
    """

    plugin_id: str
    status: Union[Status, int]
    message: str
    failed_step: Optional[str]
    steps: List[Tuple[str, int]]
    capabilities: Dict[Kind, List[str]]
    signal: int
    exit_code: int
    stderr: str

    @property
    def passed(self) -> bool:
        return self.status == Status.OK

    def error(self) -> Optional[Error]:
        """The exception for the failure, of the class its status belongs to (not raised); None when it passed."""
        return None if self.passed else error_for(int(self.status), self.message)


@dataclass(frozen=True)
class QuarantineEntry:
    """A quarantined library (`Loader.quarantine`): the plugin it belongs to, the probe's failure and when.

    `status` is the probe's failure (`PLUGIN_CRASHED`, `TIMEOUT`, `ABI_MISMATCH` or `MISSING_SYMBOL`),
    `reason` its message, and `since` the time it was quarantined, in seconds since the Unix epoch.
    """

    plugin_id: str
    library_path: str
    status: Union[Status, int]
    reason: str
    since: int


@dataclass(frozen=True)
class PluginUsage:
    """What an isolated plugin's helper processes have used since it was loaded, restarts included
    (`Loader.plugin_usage`).

    `cpu_user_us` and `cpu_system_us` are CPU time in user mode and in the kernel, in microseconds;
    `peak_rss_bytes` the largest resident set any of its helper processes reached; `calls` the calls made
    into it (`init`, handler calls and hooks that ran); `restarts` how many times it was started again after a
    crash; `pid` the process id of its helper, or 0 while none runs (it crashed).
    """

    cpu_user_us: int
    cpu_system_us: int
    peak_rss_bytes: int
    calls: int
    restarts: int
    pid: int


@dataclass(frozen=True)
class PluginMetrics:
    """What a loaded plugin has cost since it was loaded (or reloaded), while metrics were on
    (`Loader.plugin_metrics`). Durations are in nanoseconds.

    `load_ns` and `init_ns` are how long its last load and its last `init` took; `calls` and `failures` count
    the calls into its capabilities (hooks included) and those that failed; `total_ns` is their wall-clock time;
    `cpu_ns` the calling threads' CPU time inside them, or for an isolated plugin its helper processes' CPU time.
    """

    load_ns: int
    init_ns: int
    calls: int
    failures: int
    total_ns: int
    cpu_ns: int


@dataclass(frozen=True)
class CapabilityMetrics:
    """What one capability of a loaded plugin has cost since the plugin was loaded (or reloaded), while
    metrics were on (`Loader.capability_metrics`). Durations are in nanoseconds; `p50_ns` and `p99_ns` are
    within 1/16 of the true value; `cpu_ns` is 0 for an isolated plugin."""

    count: int
    failures: int
    total_ns: int
    p50_ns: int
    p99_ns: int
    cpu_ns: int


_O = TypeVar("_O", bound="_Owner")


class _Owner:
    """What every class owning one C handle (`self._h`) offers: `closed`, `close()`, a `with` block, and
    freeing by the garbage collector."""

    _h: _Handle

    @property
    def closed(self) -> bool:
        return self._h.closed

    def close(self) -> None:
        self._h.close()

    def __enter__(self: _O) -> _O:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __del__(self) -> None:
        _finalize(self)


def _text_field(accessor: Callable[[Library], Any], what: str, optional: bool, doc: str) -> property:
    """A `PluginInfo` property reading one string field: None when absent if `optional`, else "" when NULL."""

    def get(self: "PluginInfo") -> Optional[str]:
        value = _decode(self._get(accessor(self._lib), what))
        return value if optional else (value or "")

    return property(get, doc=doc)


class PluginInfo(_Owner):
    """A discovered plugin: an immutable snapshot of its manifest and paths (owns an `aisopod_plugin_info`).

    It stays valid after a new discovery and after its loader is closed. Close it with `close()` or a `with`
    block, or leave it to the garbage collector.
    """

    def __init__(self, library: Library, pointer: Any) -> None:
        self._lib = library
        self._h = _Handle(pointer, library.aisopod_plugin_info_free, "PluginInfo")

    def _get(self, accessor: Callable[..., Any], what: str, *args: Any) -> Any:
        with self._h.use(f"PluginInfo.{what}") as pointer:
            return accessor(pointer, *args)

    id = _text_field(lambda lib: lib.aisopod_plugin_info_id, "id", False, "`[plugin].id`.")
    name = _text_field(lambda lib: lib.aisopod_plugin_info_name, "name", False, "`[plugin].name`.")
    version = _text_field(
        lambda lib: lib.aisopod_plugin_info_version, "version", False,
        "`[plugin].version`, normalised.",
    )
    description = _text_field(
        lambda lib: lib.aisopod_plugin_info_description, "description", False,
        "`[plugin].description`, \"\" when absent.",
    )
    author = _text_field(
        lambda lib: lib.aisopod_plugin_info_author, "author", False,
        "`[plugin].author`, \"\" when absent.",
    )
    directory = _text_field(
        lambda lib: lib.aisopod_plugin_info_directory, "directory", False,
        "The plugin directory, as found under its search path.",
    )
    manifest_path = _text_field(
        lambda lib: lib.aisopod_plugin_info_manifest_path, "manifest_path", False,
        "The manifest's path.",
    )
    library_path = _text_field(
        lambda lib: lib.aisopod_plugin_info_library_path, "library_path", False,
        "The library the loader will open; it may not exist.",
    )
    min_host_version = _text_field(
        lambda lib: lib.aisopod_plugin_info_min_host_version, "min_host_version", True,
        "`[compatibility].min_host_version`, or None when the manifest has none.",
    )
    max_host_version = _text_field(
        lambda lib: lib.aisopod_plugin_info_max_host_version, "max_host_version", True,
        "`[compatibility].max_host_version`, or None when the manifest has none.",
    )
    license = _text_field(
        lambda lib: lib.aisopod_plugin_info_license, "license", True,
        "`[plugin].license` (an SPDX expression), or None when the manifest has none.",
    )
    homepage = _text_field(
        lambda lib: lib.aisopod_plugin_info_homepage, "homepage", True,
        "`[plugin].homepage` (a URL), or None when the manifest has none.",
    )
    repository = _text_field(
        lambda lib: lib.aisopod_plugin_info_repository, "repository", True,
        "`[plugin].repository` (a URL), or None when the manifest has none.",
    )
    sha256 = _text_field(
        lambda lib: lib.aisopod_plugin_info_sha256, "sha256", True,
        "`[plugin].sha256`, the library's integrity pin (64 lower-case hex digits), or None when the manifest "
        "pins none.",
    )

    @property
    def thread_safe(self) -> bool:
        return bool(self._get(self._lib.aisopod_plugin_info_thread_safe, "thread_safe"))

    @property
    def unloadable(self) -> bool:
        """Whether unloading closes the library (`unload = false` keeps it resident)."""
        return bool(self._get(self._lib.aisopod_plugin_info_unloadable, "unloadable"))

    def capability_count(self, kind: Union[Kind, int]) -> int:
        return int(self._get(self._lib.aisopod_plugin_info_capability_count, "capability_count", int(kind)))

    def capabilities(self, kind: Union[Kind, int]) -> List[str]:
        """The names the manifest declares for `kind`, in manifest order."""
        with self._h.use("PluginInfo.capabilities") as pointer:
            count = self._lib.aisopod_plugin_info_capability_count(pointer, int(kind))
            names = [self._lib.aisopod_plugin_info_capability_at(pointer, int(kind), i) for i in range(count)]
        return [_decode(name) or "" for name in names]

    @property
    def dependencies(self) -> List[Dependency]:
        """The plugins the manifest's `[dependencies]` names, in manifest order."""
        with self._h.use("PluginInfo.dependencies") as pointer:
            lib = self._lib
            count = lib.aisopod_plugin_info_dependency_count(pointer)
            return [
                Dependency(
                    _decode(lib.aisopod_plugin_info_dependency_id(pointer, i)) or "",
                    _decode(lib.aisopod_plugin_info_dependency_requirement(pointer, i)) or "",
                    bool(lib.aisopod_plugin_info_dependency_optional(pointer, i)),
                )
                for i in range(count)
            ]

    def __repr__(self) -> str:
        if self.closed:
            return "<aisopod_loader.PluginInfo (closed)>"
        return f"<aisopod_loader.PluginInfo {self.id!r} {self.version} at {self.directory!r}>"


class Diagnostic(_Owner):
    """A refused discovery candidate: the path at fault, a status and a message (owns an
    `aisopod_diagnostic`). `error()` gives the exception the status stands for."""

    def __init__(self, library: Library, pointer: Any) -> None:
        self._lib = library
        self._h = _Handle(pointer, library.aisopod_diagnostic_free, "Diagnostic")

    def _get(self, accessor: Callable[..., Any], what: str) -> Any:
        with self._h.use(f"Diagnostic.{what}") as pointer:
            return accessor(pointer)

    @property
    def path(self) -> str:
        return _decode(self._get(self._lib.aisopod_diagnostic_path, "path")) or ""

    @property
    def status(self) -> Union[Status, int]:
        value = self._get(self._lib.aisopod_diagnostic_status, "status")
        try:
            return Status(value)
        except ValueError:
            return int(value)

    @property
    def message(self) -> str:
        return _decode(self._get(self._lib.aisopod_diagnostic_message, "message")) or ""

    def error(self) -> Error:
        """The exception for this refusal, of the class its status belongs to (not raised)."""
        return error_for(int(self.status), self.message)

    def __repr__(self) -> str:
        if self.closed:
            return "<aisopod_loader.Diagnostic (closed)>"
        return f"<aisopod_loader.Diagnostic {self.error()}>"


class Capability(_Owner):
    """A resolved capability (owns an `aisopod_capability`): calls skip the id and name lookups.

    While it is open its plugin cannot be unloaded (`Status.BUSY`). Closing the loader closes it first.
    """

    def __init__(self, loader: "Loader", pointer: Any, plugin_id: str, kind: Union[Kind, int], name: str) -> None:
        self._loader = loader
        self._lib = loader._lib
        self._h = _Handle(pointer, self._lib.aisopod_capability_free, "Capability")
        self.plugin_id = plugin_id
        self.kind = kind
        self.name = name

    def invoke(self, data: Data = b"") -> bytes:
        """Calls the capability with `data` and returns what it wrote."""
        payload = _data(data, "Capability.invoke")
        with self._h.use("Capability.invoke") as pointer:
            with _Output() as output:
                status = self._lib.aisopod_capability_invoke(pointer, payload, len(payload), byref(output.sink))
            if status != Status.OK:
                output.raise_failure()
                # The loader outlives its open capabilities: its close() closes them first, and refuses while
                # this call holds this one.
                raise self._loader._error(status, self._loader._handle.pointer)
        return output.joined()

    __call__ = invoke

    def close(self) -> None:
        """Frees the handle, letting its plugin be unloaded again."""
        self._h.close()
        self._loader._capabilities.discard(self._h)

    def __repr__(self) -> str:
        state = " (closed)" if self.closed else ""
        return f"<aisopod_loader.Capability {self.plugin_id}/{Kind(self.kind).name.lower()}/{self.name}{state}>"


class Loader:
    """A plugin loader (owns an `aisopod_loader`) for a host application of version `host_version`.

    `library` is a path to libaisopod_loader or an opened `Library`; by default `open_library()` finds it.
    `search_paths` are added in order; `use_env_path` and `use_default_paths` set whether discovery also
    reads `AISOPOD_PLUGIN_PATH` and the default directories.

    A loader may be shared by threads. `close()` (or leaving a `with` block) unloads every plugin still loaded
    and frees the loader; it must be the last call, and it refuses while calls on the loader are running.
    Failures raise a subclass of `aisopod_loader.Error` carrying the status and the loader's message.
    """

    _h: Optional[_Handle] = None

    def __init__(
        self,
        host_version: Text,
        *,
        library: Union[Library, PathArg, None] = None,
        search_paths: Iterable[PathArg] = (),
        use_env_path: bool = True,
        use_default_paths: bool = True,
    ) -> None:
        self._lib = library if isinstance(library, Library) else open_library(library)
        self._capabilities: Set[_Handle] = set()
        # Callbacks and extensions handed to C, kept until the loader is freed: a replaced log callback may
        # still be running on another thread, and plugins may still hold an extension.
        self._kept: List[Any] = []
        pointer = POINTER(LoaderHandle)()
        status = self._lib.aisopod_loader_new(_text(host_version, "Loader", "host_version"), byref(pointer))
        if status != Status.OK:
            raise error_for(status, _decode(self._lib.aisopod_loader_error_message(None)) or "")
        self._h = _Handle(pointer, self._lib.aisopod_loader_free, "Loader")
        self.use_env_path(use_env_path)
        self.use_default_paths(use_default_paths)
        for path in search_paths:
            self.add_search_path(path)

    # Failures.

    def _error(self, status: int, pointer: Any) -> Error:
        """The exception for `status`, with the message this thread's failed call left on the loader."""
        return error_for(status, _decode(self._lib.aisopod_loader_error_message(pointer)) or "")

    def _call(self, what: str, function: Callable[..., int], *args: Any) -> None:
        """Calls `function(loader, *args)` and raises when it fails."""
        with self._handle.use(what) as pointer:
            status = function(pointer, *args)
            if status != Status.OK:
                raise self._error(status, pointer)

    @property
    def _handle(self) -> _Handle:
        if self._h is None:
            raise ClosedError(Status.NULL_ARGUMENT, "Loader: the loader was never created")
        return self._h

    def error_message(self) -> str:
        """The message of this thread's most recent failed call on this loader, or "" (as the C API keeps
        it; the exceptions already carry it)."""
        with self._handle.use("Loader.error_message") as pointer:
            return _decode(self._lib.aisopod_loader_error_message(pointer)) or ""

    # Configuration.

    def add_search_path(self, path: PathArg) -> None:
        """Appends a directory to search; a leading `~` expands to the home directory at discovery."""
        data = _path(path, "Loader.add_search_path", "path")
        self._call("Loader.add_search_path", self._lib.aisopod_loader_add_search_path, data)

    def use_env_path(self, enabled: bool = True) -> None:
        """Sets whether discovery reads `AISOPOD_PLUGIN_PATH` (default: yes)."""
        self._call("Loader.use_env_path", self._lib.aisopod_loader_use_env_path, bool(enabled))

    def use_default_paths(self, enabled: bool = True) -> None:
        """Sets whether discovery searches the default directories (default: yes)."""
        self._call("Loader.use_default_paths", self._lib.aisopod_loader_use_default_paths, bool(enabled))

    def set_cache_path(self, path: Optional[PathArg]) -> None:
        """Keeps the registry cache in the file `path`, or turns it off with None (the default)."""
        data = None if path is None else _path(path, "Loader.set_cache_path", "path")
        self._call("Loader.set_cache_path", self._lib.aisopod_loader_set_cache_path, data)

    def use_default_cache(self) -> None:
        """Keeps the registry cache in `$XDG_CACHE_HOME/aisopod/registry.bin`."""
        self._call("Loader.use_default_cache", self._lib.aisopod_loader_use_default_cache)

    def set_file_policy(self, policy: Union[FilePolicy, int]) -> None:
        """Sets what discovery and loading do with a plugin directory, manifest or library that is writable by its
        group or others, or owned by a user other than root and this process's: `FilePolicy.STRICT` (the default)
        refuses it with `Status.UNSAFE_PERMISSIONS` (a diagnostic at discovery, `ManifestError` at load and
        probe), `WARN` logs a warning naming it, `OFF` does not look."""
        what = "Loader.set_file_policy"
        if not isinstance(policy, int) or isinstance(policy, bool):
            raise TypeError(f"{what}: argument 'policy' must be a FilePolicy, not {type(policy).__name__}")
        # An int outside the enum goes through: the library names it in its INVALID_ARGUMENT.
        self._call(what, self._lib.aisopod_loader_set_file_policy, _unsigned(int(policy), 32, what, "policy"))

    def allow(self, plugin_id: Text) -> None:
        """Adds `plugin_id` to the allow list: once it holds an id, every plugin not on it is kept out, with a
        `Status.DENIED` diagnostic at discovery, and `ManifestError` (`DENIED`) at load and probe."""
        what = "Loader.allow"
        self._call(what, self._lib.aisopod_loader_allow, _text(plugin_id, what, "plugin_id"))

    def deny(self, plugin_id: Text) -> None:
        """Adds `plugin_id` to the deny list, which wins over the allow list."""
        what = "Loader.deny"
        self._call(what, self._lib.aisopod_loader_deny, _text(plugin_id, what, "plugin_id"))

    def clear_lists(self) -> None:
        """Empties the allow and deny lists: every plugin is let in again."""
        self._call("Loader.clear_lists", self._lib.aisopod_loader_clear_lists)

    def set_signature_policy(self, policy: Union[SignaturePolicy, int]) -> None:
        """Sets what loading and probing do with a plugin that has no `aisopod.plugin.sig`, or whose signature
        names a key not passed to `trust_key`: `SignaturePolicy.ALLOW_UNSIGNED` (the default) loads it, the unknown
        key with a warning in the log; `REQUIRED` refuses it with `PluginLoadError` (`UNSIGNED`, `UNKNOWN_KEY`).
        A trusted key's signature that does not verify is `BAD_SIGNATURE` under both."""
        what = "Loader.set_signature_policy"
        if not isinstance(policy, int) or isinstance(policy, bool):
            raise TypeError(f"{what}: argument 'policy' must be a SignaturePolicy, not {type(policy).__name__}")
        # An int outside the enum goes through: the library names it in its INVALID_ARGUMENT.
        self._call(what, self._lib.aisopod_loader_set_signature_policy, _unsigned(int(policy), 32, what, "policy"))

    def trust_key(self, public_key: Union[bytes, bytearray, memoryview]) -> None:
        """Trusts the 32-byte Ed25519 public key `public_key` to sign plugins, from the next load or probe. Another
        length, or bytes that are no Ed25519 key, raise `CallerError` (`INVALID_ARGUMENT`)."""
        what = "Loader.trust_key"
        if not isinstance(public_key, (bytes, bytearray, memoryview)):
            raise TypeError(f"{what}: argument 'public_key' must be bytes-like, not {type(public_key).__name__}")
        key = bytes(public_key)
        self._call(what, self._lib.aisopod_loader_trust_key, key, len(key))

    def set_log_callback(self, callback: Optional[LogCallback]) -> None:
        """Routes the loader's and its plugins' log messages to `callback(level, source, message)`, where
        `level` is a `LogLevel` and `source` is "loader" or a plugin id; None removes it.

        The callback may run on any thread, concurrently. An exception it raises is caught (it must not
        cross into C) and reported through the `aisopod_loader` logger of `logging`; the loader goes on.
        """
        if callback is None:
            thunk = LOG_CALLBACK()
        elif not callable(callback):
            raise TypeError(f"Loader.set_log_callback: callback must be callable, not {type(callback).__name__}")
        else:
            thunk = LOG_CALLBACK(_log_trampoline(callback))
        with self._handle.use("Loader.set_log_callback") as pointer:
            status = self._lib.aisopod_loader_set_log_callback(pointer, thunk, None)
            if status != Status.OK:
                raise self._error(status, pointer)
            self._kept.append(thunk)

    def set_host_extension(self, extension_id: Text, extension: Any) -> None:
        """Registers a host extension that plugins fetch with `host->get_extension(host, id)`.

        `extension` is a ctypes object (a Structure, say), kept alive until the loader is closed; or an
        address (int) that the caller keeps valid; or None, which removes it.
        """
        ident = _text(extension_id, "Loader.set_host_extension", "extension_id")
        if extension is None or isinstance(extension, int):
            address = extension
        elif isinstance(extension, (ctypes._Pointer, c_void_p)):
            address = ctypes.cast(extension, c_void_p).value
        else:
            try:
                address = ctypes.addressof(extension)
            except TypeError:
                raise TypeError(
                    "Loader.set_host_extension: extension must be a ctypes object, an address or None, not "
                    f"{type(extension).__name__}"
                ) from None
        with self._handle.use("Loader.set_host_extension") as pointer:
            status = self._lib.aisopod_loader_set_host_extension(pointer, ident, address)
            if status != Status.OK:
                raise self._error(status, pointer)
            self._kept.append(extension)

    # Probing and the quarantine.

    def set_helper_path(self, path: Optional[PathArg]) -> None:
        """Names the helper executable, `aisopod-plugin-host`, that probes and isolated plugins run in; that
        path alone is then tried. None goes back to looking for it: `AISOPOD_HELPER`, next to the library, then
        the cargo build tree."""
        data = None if path is None else _path(path, "Loader.set_helper_path", "path")
        self._call("Loader.set_helper_path", self._lib.aisopod_loader_set_helper_path, data)

    def set_call_timeout(self, timeout_ms: int, plugin_id: Optional[Text] = None) -> None:
        """Sets how long one probe of plugin `plugin_id`, or one call into it when it runs isolated, may run;
        or, with None, of every plugin without its own deadline (default 10000 ms). Past it the helper is
        killed, and the verdict or the call is `Status.TIMEOUT`. 0 removes the plugin's own deadline, or, with
        None, restores the default."""
        what = "Loader.set_call_timeout"
        if not isinstance(timeout_ms, int) or isinstance(timeout_ms, bool):
            raise TypeError(f"{what}: argument 'timeout_ms' must be int, not {type(timeout_ms).__name__}")
        if not 0 <= timeout_ms <= _MAX_TIMEOUT_MS:
            raise CallerError(
                Status.INVALID_ARGUMENT,
                f"{what}: argument 'timeout_ms' is {timeout_ms}, outside 0 to {_MAX_TIMEOUT_MS}",
            )
        ident = None if plugin_id is None else _text(plugin_id, what, "plugin_id")
        self._call(what, self._lib.aisopod_loader_set_call_timeout, ident, timeout_ms)

    def set_probe_on_discover(self, enabled: bool = True) -> None:
        """Sets whether `discover()` probes, in a helper process, each plugin that is new or changed since its
        last probe, and sets aside the ones that get quarantined (default: no)."""
        self._call("Loader.set_probe_on_discover", self._lib.aisopod_loader_set_probe_on_discover, bool(enabled))

    def probe(self, ids: Optional[Iterable[Text]] = None, init_config: Optional[Text] = None) -> List[ProbeVerdict]:
        """Probes the discovered plugins `ids` (None: every plugin the latest discovery accepted), in order,
        in helper processes: each is loaded, created, registered, given `init` with `init_config` when it is
        not None, then shut down and unloaded there. No plugin code runs in this process.

        Returns one `ProbeVerdict` per plugin, whatever it says; a plugin that crashed, exited, hung or failed
        the ABI gate is quarantined. Raises when an id was not discovered (`CallerError` NOT_FOUND) or the
        helper cannot be used (`HelperError`)."""
        what = "Loader.probe"
        if isinstance(ids, (str, bytes)):
            raise TypeError(f"{what}: argument 'ids' must be an iterable of ids, not a single {type(ids).__name__}")
        if ids is None:
            array, count = None, 0
        else:
            encoded = [_text(ident, what, "ids") for ident in ids]
            count = len(encoded)
            # At least one element, so that an empty list still passes a non-NULL array: it probes nothing.
            array = (c_char_p * max(count, 1))(*encoded)
        config = None if init_config is None else _text(init_config, what, "init_config")
        results = POINTER(ProbeResultsHandle)()
        self._call(what, self._lib.aisopod_loader_probe, array, count, config, byref(results))
        try:
            return [self._verdict(results, index) for index in range(self._lib.aisopod_probe_results_count(results))]
        finally:
            self._lib.aisopod_probe_results_free(results)

    def _verdict(self, results: Any, index: int) -> ProbeVerdict:
        lib = self._lib

        def check(status: int) -> None:
            if status != Status.OK:
                # The probe results' accessors file their failures under no loader.
                raise self._error(status, None)

        steps = []
        for step in range(lib.aisopod_probe_results_step_count(results, index)):
            name, nanos = c_char_p(), c_uint64()
            check(lib.aisopod_probe_results_step_at(results, index, step, byref(name), byref(nanos)))
            steps.append((_decode(name.value) or "", nanos.value))
        capabilities = {
            kind: [
                _decode(lib.aisopod_probe_results_capability_at(results, index, int(kind), i)) or ""
                for i in range(lib.aisopod_probe_results_capability_count(results, index, int(kind)))
            ]
            for kind in Kind
        }
        signal, exit_code = c_int32(), c_int32()
        check(lib.aisopod_probe_results_ending(results, index, byref(signal), byref(exit_code)))
        return ProbeVerdict(
            plugin_id=_decode(lib.aisopod_probe_results_plugin_id(results, index)) or "",
            status=_status(lib.aisopod_probe_results_status(results, index)),
            message=_decode(lib.aisopod_probe_results_message(results, index)) or "",
            failed_step=_decode(lib.aisopod_probe_results_failed_step(results, index)),
            steps=steps,
            capabilities=capabilities,
            signal=signal.value,
            exit_code=exit_code.value,
            stderr=_decode(lib.aisopod_probe_results_stderr(results, index)) or "",
        )

    def quarantine(self) -> List[QuarantineEntry]:
        """The quarantined libraries, oldest first."""
        what = "Loader.quarantine"
        lib = self._lib
        entries = []
        with self._handle.use(what) as pointer:
            count = c_size_t()
            status = lib.aisopod_loader_quarantine_count(pointer, byref(count))
            if status != Status.OK:
                raise self._error(status, pointer)
            for index in range(count.value):
                entry = POINTER(QuarantineEntryHandle)()
                status = lib.aisopod_loader_quarantine_at(pointer, index, byref(entry))
                if status == Status.OUT_OF_RANGE:
                    break  # The quarantine shrank since it was counted.
                if status != Status.OK:
                    raise self._error(status, pointer)
                try:
                    entries.append(self._quarantine_entry(entry))
                finally:
                    lib.aisopod_quarantine_entry_free(entry)
        return entries

    def _quarantine_entry(self, entry: Any) -> QuarantineEntry:
        lib = self._lib
        since = c_int64()
        status = lib.aisopod_quarantine_entry_since(entry, byref(since))
        if status != Status.OK:
            raise self._error(status, None)
        return QuarantineEntry(
            plugin_id=_decode(lib.aisopod_quarantine_entry_plugin_id(entry)) or "",
            library_path=_decode(lib.aisopod_quarantine_entry_library_path(entry)) or "",
            status=_status(lib.aisopod_quarantine_entry_status(entry)),
            reason=_decode(lib.aisopod_quarantine_entry_reason(entry)) or "",
            since=since.value,
        )

    def clear_quarantine(self, plugin_id: Optional[Text] = None) -> int:
        """Lifts the quarantine of `plugin_id`, or of every plugin with None, here and in the registry cache;
        returns how many entries were lifted. Plugins that discovery set aside come back at the next one."""
        what = "Loader.clear_quarantine"
        ident = None if plugin_id is None else _text(plugin_id, what, "plugin_id")
        cleared = c_size_t()
        self._call(what, self._lib.aisopod_loader_quarantine_clear, ident, byref(cleared))
        return cleared.value

    # Isolation.

    def set_isolation(self, mode: Union[Isolation, int], plugin_id: Optional[Text] = None) -> None:
        """Sets where plugin `plugin_id` runs from its next load, or, with None, every plugin without a setting
        of its own. A manifest's `isolation = "process"` applies to a plugin given no setting of its own,
        whatever the default.

        An isolated plugin (`Isolation.PROCESS`) is loaded, initialized and called through the same methods,
        in a helper process of its own. A crash, `exit()` or missed deadline in its code raises
        `PluginRuntimeError` (`PLUGIN_CRASHED` or `TIMEOUT`) and leaves it `PluginState.CRASHED`; this process
        goes on. `plugin_extension` gives None for it: pointers do not cross processes."""
        what = "Loader.set_isolation"
        if not isinstance(mode, int) or isinstance(mode, bool):
            raise TypeError(f"{what}: argument 'mode' must be an Isolation, not {type(mode).__name__}")
        ident = None if plugin_id is None else _text(plugin_id, what, "plugin_id")
        # An int outside the enum goes through: the library names it in its INVALID_ARGUMENT.
        self._call(what, self._lib.aisopod_loader_set_isolation, ident, _unsigned(int(mode), 32, what, "mode"))

    def set_restart_policy(self, max_restarts: int, backoff_ms: int, plugin_id: Optional[Text] = None) -> None:
        """Sets how isolated plugin `plugin_id`, or with None every plugin without a policy of its own, is
        started again after a crash: the next call after at least `backoff_ms`, doubled after each restart,
        starts a new helper, loads the plugin and calls `init` with the config it last succeeded with; at most
        `max_restarts` times over one load. The call that finds it crashed raises the crash's error. The
        default is no restart (`max_restarts` 0)."""
        what = "Loader.set_restart_policy"
        restarts = _unsigned(max_restarts, 32, what, "max_restarts")
        backoff = _unsigned(backoff_ms, 32, what, "backoff_ms")
        ident = None if plugin_id is None else _text(plugin_id, what, "plugin_id")
        self._call(what, self._lib.aisopod_loader_set_restart_policy, ident, restarts, backoff)

    def set_resource_limits(
        self,
        address_space_bytes: int = 0,
        cpu_seconds: int = 0,
        open_files: int = 0,
        plugin_id: Optional[Text] = None,
    ) -> None:
        """Sets the resource limits of isolated plugin `plugin_id`'s helper process, or with None of every
        plugin without limits of its own, applied when the helper starts: at load and at each restart. 0 is no
        limit. `address_space_bytes` is `RLIMIT_AS` (past it, allocations fail), `cpu_seconds` `RLIMIT_CPU`
        (past it, the helper gets `SIGXCPU`, which ends it: a crash; the hard limit is a second more) and
        `open_files` `RLIMIT_NOFILE` (past it, opening files fails). `clear_resource_limits` removes them."""
        what = "Loader.set_resource_limits"
        limits = ResourceLimitsStruct(
            _unsigned(address_space_bytes, 64, what, "address_space_bytes"),
            _unsigned(cpu_seconds, 64, what, "cpu_seconds"),
            _unsigned(open_files, 64, what, "open_files"),
        )
        ident = None if plugin_id is None else _text(plugin_id, what, "plugin_id")
        self._call(what, self._lib.aisopod_loader_set_resource_limits, ident, byref(limits))

    def clear_resource_limits(self, plugin_id: Optional[Text] = None) -> None:
        """Removes plugin `plugin_id`'s own resource limits, so that the default applies to it again; or, with
        None, restores the default: no limits."""
        what = "Loader.clear_resource_limits"
        ident = None if plugin_id is None else _text(plugin_id, what, "plugin_id")
        self._call(what, self._lib.aisopod_loader_set_resource_limits, ident, None)

    def set_sandbox_policy(self, policy: Union[SandboxPolicy, int]) -> None:
        """Sets whether isolated plugins run sandboxed, from their next load (default
        `SandboxPolicy.BEST_EFFORT`). The sandbox lets a plugin read its own directory and the system's
        libraries, and what it declares and is granted (`grant`); it refuses everything else inside the plugin
        with `EACCES` or `EPERM`: other files, sockets, new programs and processes, and signals to processes
        outside it. Under `SandboxPolicy.REQUIRE`, loading where the kernel cannot sandbox raises
        `HelperError` (`SANDBOX_UNAVAILABLE`)."""
        what = "Loader.set_sandbox_policy"
        if not isinstance(policy, int) or isinstance(policy, bool):
            raise TypeError(f"{what}: argument 'policy' must be a SandboxPolicy, not {type(policy).__name__}")
        # An int outside the enum goes through: the library names it in its INVALID_ARGUMENT.
        self._call(what, self._lib.aisopod_loader_set_sandbox_policy, _unsigned(int(policy), 32, what, "policy"))

    def grant(
        self, permission: Union[Permission, int], path: Optional[PathArg] = None, plugin_id: Optional[Text] = None
    ) -> None:
        """Grants plugin `plugin_id`, or with None every plugin, `permission` from its next load:
        `Permission.READ` and `Permission.WRITE` on the absolute `path` and everything below it (a granted
        write path covers reading); `NETWORK` and `SUBPROCESS` take no path.

        A sandboxed isolated plugin gets what its manifest's `[permissions]` table declares, within what it was
        granted: a declared path inside a granted one, the network or subprocesses when both declare and grant
        them. Grants do nothing for plugins in this process or with the sandbox off. A relative path, or a path
        missing or given where it does not fit, raises `CallerError` (`INVALID_ARGUMENT`)."""
        what = "Loader.grant"
        if not isinstance(permission, int) or isinstance(permission, bool):
            raise TypeError(f"{what}: argument 'permission' must be a Permission, not {type(permission).__name__}")
        data = None if path is None else _path(path, what, "path")
        ident = None if plugin_id is None else _text(plugin_id, what, "plugin_id")
        # An int outside the enum goes through: the library names it in its INVALID_ARGUMENT.
        value = _unsigned(int(permission), 32, what, "permission")
        self._call(what, self._lib.aisopod_loader_grant, ident, value, data)

    def revoke_grants(self, plugin_id: Optional[Text] = None) -> None:
        """Takes back every grant made to plugin `plugin_id` alone, or with None the grants made to every plugin
        (plugins' own grants stay), from each plugin's next load."""
        what = "Loader.revoke_grants"
        ident = None if plugin_id is None else _text(plugin_id, what, "plugin_id")
        self._call(what, self._lib.aisopod_loader_revoke_grants, ident)

    def plugin_usage(self, plugin_id: Text) -> PluginUsage:
        """What loaded isolated plugin `plugin_id` has used. Raises `CallerError` NOT_LOADED when it is not
        loaded, and INVALID_ARGUMENT when it runs in this process, where its use cannot be told apart."""
        what = "Loader.plugin_usage"
        usage = PluginUsageStruct()
        self._call(what, self._lib.aisopod_loader_plugin_usage, _text(plugin_id, what, "plugin_id"), byref(usage))
        return PluginUsage(
            cpu_user_us=usage.cpu_user_us,
            cpu_system_us=usage.cpu_system_us,
            peak_rss_bytes=usage.peak_rss_bytes,
            calls=usage.calls,
            restarts=usage.restarts,
            pid=usage.pid,
        )

    def set_metrics(self, enabled: bool = True) -> None:
        """Turns per-plugin metrics on or off (off by default: measuring reads two clocks around every call),
        for every plugin loaded now or later. A reload or an unload resets a plugin's metrics."""
        self._call("Loader.set_metrics", self._lib.aisopod_loader_set_metrics, bool(enabled))

    def plugin_metrics(self, plugin_id: Text) -> PluginMetrics:
        """What loaded plugin `plugin_id` has cost. Raises `CallerError` INVALID_ARGUMENT while metrics are off,
        and NOT_LOADED when it is not loaded."""
        what = "Loader.plugin_metrics"
        metrics = PluginMetricsStruct(struct_size=ctypes.sizeof(PluginMetricsStruct))
        self._call(what, self._lib.aisopod_loader_plugin_metrics, _text(plugin_id, what, "plugin_id"), byref(metrics))
        return PluginMetrics(
            load_ns=metrics.load_ns,
            init_ns=metrics.init_ns,
            calls=metrics.calls,
            failures=metrics.failures,
            total_ns=metrics.total_ns,
            cpu_ns=metrics.cpu_ns,
        )

    def capability_metrics(self, plugin_id: Text, kind: Union[Kind, int], name: Text) -> CapabilityMetrics:
        """What capability `name` of `kind` of loaded plugin `plugin_id` has cost. Raises as `plugin_metrics`,
        and CAPABILITY_NOT_FOUND when the plugin registered no such capability."""
        what = "Loader.capability_metrics"
        ident, capability = _text(plugin_id, what, "plugin_id"), _text(name, what, "name")
        metrics = CapabilityMetricsStruct(struct_size=ctypes.sizeof(CapabilityMetricsStruct))
        self._call(what, self._lib.aisopod_loader_capability_metrics, ident, int(kind), capability, byref(metrics))
        return CapabilityMetrics(
            count=metrics.count,
            failures=metrics.failures,
            total_ns=metrics.total_ns,
            p50_ns=metrics.p50_ns,
            p99_ns=metrics.p99_ns,
            cpu_ns=metrics.cpu_ns,
        )

    def report(self) -> Dict[str, Any]:
        """The load report (`aisopod_loader_report_json`), parsed: the loader's settings, its loaded plugins, the
        discovered plugins it has not loaded, the latest discovery's diagnostics and the quarantine, in schema
        "aisopod-loader-report/1" (`schema/aisopod-loader-report-1.schema.json`)."""
        out = c_char_p()
        self._call("Loader.report", self._lib.aisopod_loader_report_json, byref(out))
        try:
            text = out.value.decode("utf-8")
        finally:
            self._lib.aisopod_loader_report_free(out)
        return json.loads(text)

    # Discovery.

    def discover(self) -> int:
        """Scans the search paths, replacing the previous result, and returns how many plugins it found. A bad
        candidate does not fail the scan; it becomes a `Diagnostic`."""
        count = c_size_t()
        self._call("Loader.discover", self._lib.aisopod_loader_discover, byref(count))
        return count.value

    def plugin_count(self) -> int:
        count = c_size_t()
        self._call("Loader.plugin_count", self._lib.aisopod_loader_plugin_count, byref(count))
        return count.value

    def plugin_at(self, index: int) -> PluginInfo:
        """The `index`-th discovered plugin, in search-path order; `CallerError` OUT_OF_RANGE past the end."""
        if index < 0:
            raise CallerError(Status.OUT_OF_RANGE, f"Loader.plugin_at: index {index} is negative")
        info = POINTER(PluginInfoHandle)()
        self._call("Loader.plugin_at", self._lib.aisopod_loader_plugin_at, index, byref(info))
        return PluginInfo(self._lib, info)

    def find_plugin(self, plugin_id: Text) -> PluginInfo:
        """The discovered plugin `plugin_id`; `CallerError` NOT_FOUND when the latest discovery has none."""
        ident = _text(plugin_id, "Loader.find_plugin", "plugin_id")
        info = POINTER(PluginInfoHandle)()
        self._call("Loader.find_plugin", self._lib.aisopod_loader_find_plugin, ident, byref(info))
        return PluginInfo(self._lib, info)

    def plugins(self) -> List[PluginInfo]:
        """Every plugin of the latest discovery, in search-path order."""
        return [self.plugin_at(i) for i in range(self.plugin_count())]

    def diagnostic_count(self) -> int:
        count = c_size_t()
        self._call("Loader.diagnostic_count", self._lib.aisopod_loader_diagnostic_count, byref(count))
        return count.value

    def diagnostic_at(self, index: int) -> Diagnostic:
        if index < 0:
            raise CallerError(Status.OUT_OF_RANGE, f"Loader.diagnostic_at: index {index} is negative")
        diagnostic = POINTER(DiagnosticHandle)()
        self._call("Loader.diagnostic_at", self._lib.aisopod_loader_diagnostic_at, index, byref(diagnostic))
        return Diagnostic(self._lib, diagnostic)

    def diagnostics(self) -> List[Diagnostic]:
        """Every candidate the latest discovery refused."""
        return [self.diagnostic_at(i) for i in range(self.diagnostic_count())]

    # Lifecycle.

    def load(self, plugin_id: Text) -> None:
        """Checks and loads the discovered plugin; on failure nothing stays loaded and the exception names
        the failing step."""
        self._call("Loader.load", self._lib.aisopod_loader_load, _text(plugin_id, "Loader.load", "plugin_id"))

    def init(self, plugin_id: Text, config: Optional[Text] = None, data_dir: Optional[PathArg] = None) -> None:
        """Calls the loaded plugin's `init` with `config` (JSON by convention; None means "") and `data_dir`
        (None: no data directory)."""
        what = "Loader.init"
        self._call(
            what,
            self._lib.aisopod_loader_init,
            _text(plugin_id, what, "plugin_id"),
            None if config is None else _text(config, what, "config"),
            None if data_dir is None else _path(data_dir, what, "data_dir"),
        )

    def invoke(self, plugin_id: Text, kind: Union[Kind, int], name: Text, data: Data = b"") -> bytes:
        """Calls capability `name` of `kind` in the initialized plugin with `data`, and returns what it wrote.
        A handler's non-zero return raises `PluginRuntimeError` (PLUGIN_ERROR) with the code in the message."""
        what = "Loader.invoke"
        ident, capability = _text(plugin_id, what, "plugin_id"), _text(name, what, "name")
        payload = _data(data, what)
        with self._handle.use(what) as pointer:
            with _Output() as output:
                status = self._lib.aisopod_loader_invoke(
                    pointer, ident, int(kind), capability, payload, len(payload), byref(output.sink)
                )
            if status != Status.OK:
                output.raise_failure()
                raise self._error(status, pointer)
        return output.joined()

    def emit(self, event: Text, data: Data = b"") -> Emitted:
        """Calls the hook handler for `event` in every initialized plugin, in load order. Every handler runs
        even when one fails; the first failure is raised."""
        what = "Loader.emit"
        name, payload = _text(event, what, "event"), _data(data, what)
        handled = c_size_t()
        with self._handle.use(what) as pointer:
            with _Output() as output:
                status = self._lib.aisopod_loader_emit(
                    pointer, name, payload, len(payload), byref(output.sink), byref(handled)
                )
            if status != Status.OK:
                output.raise_failure()
                raise self._error(status, pointer)
        return Emitted(handled.value, output.joined())

    def plugin_extension(self, plugin_id: Text, extension_id: Text) -> Optional[int]:
        """The address of the loaded plugin's optional interface `extension_id`, or None when it has none.
        Read it with ctypes (`MyStruct.from_address(address)`); it is valid until the plugin is unloaded."""
        what = "Loader.plugin_extension"
        extension = c_void_p()
        self._call(
            what,
            self._lib.aisopod_loader_plugin_extension,
            _text(plugin_id, what, "plugin_id"),
            _text(extension_id, what, "extension_id"),
            byref(extension),
        )
        return extension.value

    def plugin_state(self, plugin_id: Text) -> PluginState:
        """UNLOADED, LOADED, INITIALIZED, or CRASHED for an isolated plugin whose helper process died; an id
        that is not loaded, discovered or not, is UNLOADED."""
        what = "Loader.plugin_state"
        state = c_uint32()
        self._call(what, self._lib.aisopod_loader_plugin_state, _text(plugin_id, what, "plugin_id"), byref(state))
        return PluginState(state.value)

    def unload(self, plugin_id: Text) -> None:
        """Waits for the plugin's running handlers, then shuts it down, destroys it and closes its library.
        Refused with `CallerError` BUSY while a `Capability` of it is open."""
        self._call("Loader.unload", self._lib.aisopod_loader_unload, _text(plugin_id, "Loader.unload", "plugin_id"))

    def unload_cascade(self, plugin_id: Text) -> None:
        """Unloads the loaded plugins that depend on the plugin, most recently loaded first, then the plugin.
        Refused with `CallerError` BUSY, unloading nothing, while a `Capability` of any of them is open."""
        what = "Loader.unload_cascade"
        self._call(what, self._lib.aisopod_loader_unload_cascade, _text(plugin_id, what, "plugin_id"))

    # The plugin graph.

    def require(self, plugin_id: Text, requirement: Optional[Text]) -> None:
        """Accepts only the versions of the plugin that the semver `requirement` matches ("^2.1"), from the
        next discovery and load; None removes the requirement."""
        what = "Loader.require"
        self._call(
            what,
            self._lib.aisopod_loader_require,
            _text(plugin_id, what, "plugin_id"),
            None if requirement is None else _text(requirement, what, "requirement"),
        )

    def set_config(self, plugin_id: Text, config: Optional[Text] = None, data_dir: Optional[PathArg] = None) -> None:
        """The config and data directory the loader gives the plugin's `init` when it initializes the plugin on
        its own: as a dependency of a plugin `init` starts, or on first use under the lazy policy."""
        what = "Loader.set_config"
        self._call(
            what,
            self._lib.aisopod_loader_set_config,
            _text(plugin_id, what, "plugin_id"),
            None if config is None else _text(config, what, "config"),
            None if data_dir is None else _path(data_dir, what, "data_dir"),
        )

    def set_lazy(self, lazy: bool = True) -> None:
        """Sets whether `invoke`, `resolve` and `emit` load and initialize a discovered plugin, with its
        dependencies, on its first use (default: no)."""
        self._call("Loader.set_lazy", self._lib.aisopod_loader_set_lazy, bool(lazy))
    def reload(self, plugin_id: Text) -> None:
        """Reloads the plugin from its directory: the new version passes every load step while the old one keeps
        running (a failure raises and leaves the old one as it was), then replaces it and is initialized with the
        old one's config. `Capability` handles of the old version then raise `CallerError` STALE."""
        self._call("Loader.reload", self._lib.aisopod_loader_reload, _text(plugin_id, "Loader.reload", "plugin_id"))

    def poll_changes(self) -> int:
        """Reloads, in load order, each loaded plugin whose manifest or library changed since it was loaded or
        last reloaded, and returns how many it reloaded. When one fails the others are still reloaded, and the
        first failure is raised."""
        reloaded = c_size_t()
        self._call("Loader.poll_changes", self._lib.aisopod_loader_poll_changes, byref(reloaded))
        return reloaded.value

    def plugin_generation(self, plugin_id: Text) -> int:
        """The generation of the loaded plugin's current version: every load and reload takes the next
        number, from 1."""
        what = "Loader.plugin_generation"
        generation = c_uint64()
        ident = _text(plugin_id, what, "plugin_id")
        self._call(what, self._lib.aisopod_loader_plugin_generation, ident, byref(generation))
        return generation.value

    def resolve(self, plugin_id: Text, kind: Union[Kind, int], name: Text) -> Capability:
        """Resolves a capability of an initialized plugin once, for calls without lookups. Close the
        `Capability` (or use it in a `with` block) to let the plugin be unloaded again."""
        what = "Loader.resolve"
        ident, capability_name = _text(plugin_id, what, "plugin_id"), _text(name, what, "name")
        pointer = POINTER(CapabilityHandle)()
        self._call(what, self._lib.aisopod_loader_resolve, ident, int(kind), capability_name, byref(pointer))
        capability = Capability(self, pointer, _decode(ident) or "", kind, _decode(capability_name) or "")
        self._capabilities.add(capability._h)
        return capability

    # Ownership.

    @property
    def library(self) -> Library:
        return self._lib

    @property
    def closed(self) -> bool:
        return self._h is None or self._h.closed

    def close(self) -> None:
        """Closes the loader's open capabilities, then unloads every plugin still loaded (most recent first)
        and frees the loader. Closing twice does nothing. Info and diagnostic objects stay usable."""
        if self._h is None:
            return
        for capability in list(self._capabilities):
            capability.close()
            self._capabilities.discard(capability)
        self._h.close()
        # Plugins' shutdown may have logged through a kept callback during the free; nothing can call them now.
        self._kept.clear()

    def __enter__(self) -> "Loader":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __del__(self) -> None:
        _finalize(self)

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"library {self._lib.version}"
        return f"<aisopod_loader.Loader ({state})>"


def _log_trampoline(callback: LogCallback) -> Callable[[Any, int, Optional[bytes], Optional[bytes]], None]:
    def log(userdata: Any, level: int, source: Optional[bytes], message: Optional[bytes]) -> None:
        try:
            try:
                tagged: Union[LogLevel, int] = LogLevel(level)
            except ValueError:
                tagged = level
            callback(tagged, _decode(source) or "", _decode(message) or "")
        except BaseException:  # noqa: B036 - nothing may cross into C.
            try:
                _logger.exception("the log callback %r raised; the loader went on", callback)
            except BaseException:  # noqa: B036
                pass

    return log


def _finalize(owner: Any) -> None:
    """`__del__`: frees what is still open. At interpreter exit, modules may already be torn down."""
    try:
        owner.close()
    except Exception:
        pass


def version(library: Union[Library, PathArg, None] = None) -> str:
    """The library's version string (`aisopod_loader_version()`)."""
    lib = library if isinstance(library, Library) else open_library(library)
    return str(lib.aisopod_loader_version().decode())


def status_str(status: int, library: Union[Library, PathArg, None] = None) -> str:
    """The library's static English description of a status value (`aisopod_status_str`)."""
    lib = library if isinstance(library, Library) else open_library(library)
    return str(lib.aisopod_status_str(int(status)).decode())
