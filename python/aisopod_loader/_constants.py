"""The header's enumerations as Python enums: statuses, capability kinds, log levels, plugin states, isolation
modes, permissions, sandbox policies and file policies.

python/tests/test_bindings.py checks every member against include/aisopod_loader.h, both ways.
"""

import enum

#: `AISOPOD_ABI_VERSION`: the plugin ABI version the loader speaks.
ABI_VERSION = 1

#: `AISOPOD_MANIFEST_MAX_BYTES`: the largest manifest the loader reads.
MANIFEST_MAX_BYTES = 64 * 1024
#: `AISOPOD_ID_MAX_LEN`: the longest plugin id, in bytes.
ID_MAX_LEN = 64
#: `AISOPOD_CAPABILITY_NAME_MAX_LEN`: the longest capability name, in bytes.
CAPABILITY_NAME_MAX_LEN = 128


class Status(enum.IntEnum):
    """`aisopod_status`: the result of a loader call. `c_name` is the C constant's name."""

    OK = 0
    NULL_ARGUMENT = 1
    INVALID_UTF8 = 2
    INVALID_ARGUMENT = 3
    OUT_OF_RANGE = 4
    NOT_FOUND = 5
    ALREADY_LOADED = 6
    NOT_LOADED = 7
    NOT_INITIALIZED = 8
    ALREADY_INITIALIZED = 9
    CAPABILITY_NOT_FOUND = 10
    REENTRANT = 11
    BUSY = 12
    HAS_DEPENDENTS = 13
    STALE = 14
    IO = 100
    MANIFEST_PARSE = 101
    MANIFEST_INVALID = 102
    MANIFEST_TOO_LARGE = 103
    DUPLICATE_ID = 104
    VERSION_INCOMPATIBLE = 105
    QUARANTINED = 106
    UNSAFE_PERMISSIONS = 107
    DENIED = 108
    DEPENDENCY_MISSING = 109
    DEPENDENCY_VERSION = 110
    DEPENDENCY_CYCLE = 111
    VERSION_REJECTED = 112
    LIBRARY_NOT_FOUND = 200
    LIBRARY_OUTSIDE_PLUGIN_DIR = 201
    LIBRARY_LOAD = 202
    MISSING_SYMBOL = 203
    ABI_MISMATCH = 204
    CREATE_FAILED = 205
    INVALID_PLUGIN_STRUCT = 206
    ID_MISMATCH = 207
    REGISTRATION_FAILED = 208
    CAPABILITY_MISMATCH = 209
    INTEGRITY_MISMATCH = 210
    UNSIGNED = 211
    UNKNOWN_KEY = 212
    BAD_SIGNATURE = 213
    MALFORMED_SIGNATURE = 214
    INIT_FAILED = 300
    PLUGIN_ERROR = 301
    PLUGIN_CRASHED = 302
    TIMEOUT = 303
    HELPER_UNAVAILABLE = 400
    HELPER_MISMATCH = 401
    HELPER_FAILED = 402
    SANDBOX_UNAVAILABLE = 403
    PANIC = 900

    @property
    def c_name(self) -> str:
        return "AISOPOD_STATUS_" + self.name


class Kind(enum.IntEnum):
    """`aisopod_capability_kind`: the `AISOPOD_CAPABILITY_*` values."""

    TOOL = 0
    COMMAND = 1
    CHANNEL = 2
    PROVIDER = 3
    HOOK = 4


class LogLevel(enum.IntEnum):
    """`aisopod_log_level`: the `AISOPOD_LOG_*` values, from most to least severe."""

    ERROR = 1
    WARN = 2
    INFO = 3
    DEBUG = 4
    TRACE = 5


class PluginState(enum.IntEnum):
    """`aisopod_plugin_state`: the `AISOPOD_PLUGIN_STATE_*` values."""

    UNLOADED = 0
    LOADED = 1
    INITIALIZED = 2
    #: An isolated plugin whose helper process crashed, exited or missed a deadline: calls fail until its
    #: restart policy starts it again or it is unloaded.
    CRASHED = 3


class Isolation(enum.IntEnum):
    """`aisopod_isolation`: the `AISOPOD_ISOLATION_*` values, where a plugin's code runs."""

    #: In the host's process (the default).
    NONE = 0
    #: In a helper process of its own: a crash, `exit()` or hang in its code ends only that process.
    PROCESS = 1


class Permission(enum.IntEnum):
    """`aisopod_permission`: the `AISOPOD_PERMISSION_*` values, what a host grants isolated plugins. A sandboxed
    plugin gets what its manifest's `[permissions]` table declares, within what it was granted."""

    #: Reading a path and everything below it.
    READ = 0
    #: Reading, writing, creating and removing in a path and everything below it.
    WRITE = 1
    #: Opening sockets and connecting them.
    NETWORK = 2
    #: Starting programs and processes.
    SUBPROCESS = 3


class SandboxPolicy(enum.IntEnum):
    """`aisopod_sandbox_policy`: the `AISOPOD_SANDBOX_*` values, whether isolated plugins run sandboxed."""

    #: No sandbox: an isolated plugin can do whatever the host's user can.
    OFF = 0
    #: Sandboxed where the kernel can (Linux with Landlock); elsewhere loaded anyway, with a warning in the log.
    #: The default.
    BEST_EFFORT = 1
    #: Sandboxed, or not loaded: `Status.SANDBOX_UNAVAILABLE` where the kernel cannot.
    REQUIRE = 2


class FilePolicy(enum.IntEnum):
    """`aisopod_file_policy`: the `AISOPOD_FILE_POLICY_*` values, what discovery and loading do with a plugin file
    that someone other than root and this process's user could have written."""

    #: Not checked.
    OFF = 0
    #: Accepted, with a warning in the log.
    WARN = 1
    #: Refused with `Status.UNSAFE_PERMISSIONS` (the default).
    STRICT = 2


class SignaturePolicy(enum.IntEnum):
    """`aisopod_signature_policy`: the `AISOPOD_SIGNATURES_*` values, what loading does with a plugin that is
    unsigned or signed by a key the host does not trust. A trusted key's signature that does not verify is refused
    under both."""

    #: Unsigned plugins load; one signed by an unknown key loads with a warning in the log (the default).
    ALLOW_UNSIGNED = 0
    #: Only plugins signed by a trusted key load: `Status.UNSIGNED` and `Status.UNKNOWN_KEY` otherwise.
    REQUIRED = 1
