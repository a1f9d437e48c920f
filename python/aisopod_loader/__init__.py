"""Python bindings for aisopod-loader: discover, check, load and call plugins through libaisopod_loader.

Pure Python over the shared library, through ctypes. Every function of the C API is wrapped:

    import aisopod_loader as aisopod

    with aisopod.Loader("1.4.0", search_paths=["~/.myapp/plugins"]) as loader:
        loader.discover()
        loader.load("hello")
        loader.init("hello", '{"greeting": "hi"}')
        print(loader.invoke("hello", aisopod.Kind.TOOL, "greet", b"world"))  # b'Hello, world!'

`open_library()` says where the library is looked for (a path argument, then `AISOPOD_LOADER_LIBRARY`, then
the dynamic linker's search).
"""

from ._constants import (
    ABI_VERSION,
    CAPABILITY_NAME_MAX_LEN,
    ID_MAX_LEN,
    MANIFEST_MAX_BYTES,
    FilePolicy,
    SignaturePolicy,
    Isolation,
    Kind,
    LogLevel,
    Permission,
    PluginState,
    SandboxPolicy,
    Status,
)
from ._errors import (
    CallerError,
    ClosedError,
    Error,
    HelperError,
    InternalError,
    LoaderLibraryError,
    ManifestError,
    PluginLoadError,
    PluginRuntimeError,
)
from ._library import ENV_VAR, Library, open_library
from ._loader import (
    Capability,
    CapabilityMetrics,
    Diagnostic,
    Dependency,
    Emitted,
    Loader,
    PluginInfo,
    PluginMetrics,
    PluginUsage,
    ProbeVerdict,
    QuarantineEntry,
    status_str,
    version,
)
from ._version import __version__

__all__ = [
    "ABI_VERSION",
    "CAPABILITY_NAME_MAX_LEN",
    "ID_MAX_LEN",
    "MANIFEST_MAX_BYTES",
    "ENV_VAR",
    "CallerError",
    "Capability",
    "CapabilityMetrics",
    "ClosedError",
    "Diagnostic",
    "Dependency",
    "Emitted",
    "Error",
    "FilePolicy",
    "SignaturePolicy",
    "HelperError",
    "InternalError",
    "Isolation",
    "Kind",
    "Library",
    "Loader",
    "LoaderLibraryError",
    "LogLevel",
    "ManifestError",
    "Permission",
    "PluginInfo",
    "PluginLoadError",
    "PluginRuntimeError",
    "PluginState",
    "PluginMetrics",
    "PluginUsage",
    "ProbeVerdict",
    "QuarantineEntry",
    "SandboxPolicy",
    "Status",
    "__version__",
    "open_library",
    "status_str",
    "version",
]
