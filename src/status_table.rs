// The status table: every `aisopod_status`, each once, with its value, its name, its one-line description and
// its documentation. Nothing else lists the statuses.
//
// `build.rs` reads this file and generates from it the `aisopod_status` enum (which `src/abi.rs` includes and
// cbindgen turns into the header's enum), `aisopod_status::ALL`, the number -> status conversion
// `aisopod_status::from_u32` and `aisopod_status::description`, which `aisopod_status_str` returns. To add a
// status, add a row: values are stable and grouped in ranges, and a retired value is never reused.

/// One status.
struct Row {
    /// The stable value, in the ranges `ENUM_DOC` gives.
    value: u32,
    /// The Rust variant name; the header spells it `AISOPOD_STATUS_` and the name in SCREAMING_SNAKE_CASE.
    name: &'static str,
    /// What `aisopod_status_str` returns: one line, lower case, no final period, unique to the status.
    description: &'static str,
    /// The variant's documentation in the header, one entry per line.
    doc: &'static [&'static str],
}

/// The enum's own documentation in the header, one entry per line.
const ENUM_DOC: &[&str] = &[
    "The result of a loader call, and the value a registrar returns when it refuses a registration.",
    "",
    "Values are stable and grouped in ranges: 0 success; 1-99 caller errors; 100-199 manifest and discovery;",
    "200-299 library and plugin-struct checks; 300-399 plugin runtime; 400-499 the helper process that runs plugins",
    "out of the host's process; 900 and up, loader faults. A value is never",
    "reused once retired. Hosts should treat unknown values as errors.",
];

/// Every status, in ascending order of value.
const STATUSES: &[Row] = &[
    Row { value: 0, name: "Ok", description: "success", doc: &["Success."] },
    Row {
        value: 1,
        name: "NullArgument",
        description: "a required pointer argument was NULL",
        doc: &["A required pointer argument was NULL."],
    },
    Row {
        value: 2,
        name: "InvalidUtf8",
        description: "a string or file is not valid UTF-8",
        doc: &["A string argument or a file that must be UTF-8 is not."],
    },
    Row {
        value: 3,
        name: "InvalidArgument",
        description: "an argument is invalid",
        doc: &[
            "An argument is out of its domain: an unknown capability kind, a bad host version, a NUL inside a string.",
        ],
    },
    Row {
        value: 4,
        name: "OutOfRange",
        description: "an index is out of range",
        doc: &["An index is past the end of a list."],
    },
    Row {
        value: 5,
        name: "NotFound",
        description: "no discovered plugin has that id",
        doc: &["No discovered plugin has the requested id."],
    },
    Row {
        value: 6,
        name: "AlreadyLoaded",
        description: "the plugin is already loaded",
        doc: &["The plugin is loaded already."],
    },
    Row { value: 7, name: "NotLoaded", description: "the plugin is not loaded", doc: &["The plugin is not loaded."] },
    Row {
        value: 8,
        name: "NotInitialized",
        description: "the plugin is not initialized",
        doc: &["The plugin is loaded but not initialised."],
    },
    Row {
        value: 9,
        name: "AlreadyInitialized",
        description: "the plugin is already initialized",
        doc: &["The plugin was initialised already."],
    },
    Row {
        value: 10,
        name: "CapabilityNotFound",
        description: "the plugin has no such capability",
        doc: &["The loaded plugin registered no capability of that kind and name."],
    },
    Row {
        value: 11,
        name: "Reentrant",
        description: "the call was made re-entrantly from inside a plugin callback",
        doc: &[
            "A lifecycle call (load, init, unload) was made from inside a plugin callback, or a `thread_safe = false`",
            "plugin was re-entered from its own callback; either would deadlock.",
        ],
    },
    Row {
        value: 12,
        name: "Busy",
        description: "the plugin has resolved capability handles alive",
        doc: &["The plugin has resolved capability handles alive; free them before unloading it."],
    },
    Row {
        value: 13,
        name: "HasDependents",
        description: "other loaded plugins depend on the plugin",
        doc: &[
            "Other loaded plugins declare the plugin in their `[dependencies]`; the message names them. Unload them",
            "first, or unload with `aisopod_loader_unload_cascade`.",
        ],
    },
    Row {
        value: 14,
        name: "Stale",
        description: "the capability handle belongs to a plugin version a reload replaced",
        doc: &[
            "The resolved capability handle belongs to a version of its plugin that `aisopod_loader_reload` (or",
            "`aisopod_loader_poll_changes`) replaced; the old code was not called. The message names the plugin, the",
            "capability and both generations. Free the handle and resolve the capability again.",
        ],
    },
    Row {
        value: 100,
        name: "Io",
        description: "a file or directory could not be read",
        doc: &["A file or directory could not be read."],
    },
    Row {
        value: 101,
        name: "ManifestParse",
        description: "the manifest could not be parsed",
        doc: &["The manifest is not valid TOML, lacks a required field, has a wrongly typed field or an unknown key."],
    },
    Row {
        value: 102,
        name: "ManifestInvalid",
        description: "a manifest value is invalid",
        doc: &["A manifest value is invalid: id syntax, semver, entry point, compatibility range, capability name."],
    },
    Row {
        value: 103,
        name: "ManifestTooLarge",
        description: "the manifest is too large",
        doc: &["The manifest exceeds the 64 KiB cap."],
    },
    Row {
        value: 104,
        name: "DuplicateId",
        description: "another plugin has the same id",
        doc: &["A plugin earlier in the search path has the same id."],
    },
    Row {
        value: 105,
        name: "VersionIncompatible",
        description: "the host version is outside the plugin's compatibility range",
        doc: &["The host version is outside the manifest's `[compatibility]` range."],
    },
    Row {
        value: 106,
        name: "Quarantined",
        description: "the plugin is quarantined after a failed probe",
        doc: &[
            "A probe of this library crashed, hung, exited or failed the ABI gate; the message gives the reason and",
            "the date. The entry expires when the library, the loader or the ABI version changes, or when the host",
            "clears it.",
        ],
    },
    Row {
        value: 107,
        name: "UnsafePermissions",
        description: "a plugin file is writable or owned by another user",
        doc: &[
            "A plugin directory, manifest or library is writable by its group or by others, or owned by a user other",
            "than root and this process's effective user, and the file policy is strict. The message names the",
            "file, its mode in octal and its owner.",
        ],
    },
    Row {
        value: 108,
        name: "Denied",
        description: "the host's allow or deny list keeps the plugin out",
        doc: &[
            "The plugin's id is on the host's deny list, or not on its allow list while that list is not empty; the",
            "message names the id and the list.",
        ],
    },
    Row {
        value: 109,
        name: "DependencyMissing",
        description: "a plugin the plugin depends on was not discovered",
        doc: &[
            "A plugin named in the plugin's `[dependencies]` (and not optional) was not discovered, or was set aside;",
            "the message names the whole chain, such as `a -> b -> c`, and why the last one is missing.",
        ],
    },
    Row {
        value: 110,
        name: "DependencyVersion",
        description: "a plugin the plugin depends on has a version outside the required range",
        doc: &[
            "A plugin named in the plugin's `[dependencies]` has a version outside the range given there; the message",
            "names both plugins, the range and the version found.",
        ],
    },
    Row {
        value: 111,
        name: "DependencyCycle",
        description: "the plugin's dependencies lead back to it",
        doc: &["The plugin's `[dependencies]` lead back to it; the message names the cycle, such as `a -> b -> a`."],
    },
    Row {
        value: 112,
        name: "VersionRejected",
        description: "the plugin's version is outside the range the host requires of it",
        doc: &[
            "The plugin's version is outside the range the host requires of it with `aisopod_loader_require`; the",
            "message names both.",
        ],
    },
    Row {
        value: 200,
        name: "LibraryNotFound",
        description: "the plugin library does not exist",
        doc: &["The plugin's library file does not exist."],
    },
    Row {
        value: 201,
        name: "LibraryOutsidePluginDir",
        description: "the plugin library resolves outside its plugin directory",
        doc: &["The library resolves (through symlinks) to a file outside the plugin directory."],
    },
    Row {
        value: 202,
        name: "LibraryLoad",
        description: "the dynamic linker could not load the plugin library",
        doc: &["The dynamic linker refused the library."],
    },
    Row {
        value: 203,
        name: "MissingSymbol",
        description: "the plugin library lacks a required symbol",
        doc: &["The library lacks `aisopod_plugin_abi_version` or `aisopod_plugin_create`."],
    },
    Row {
        value: 204,
        name: "AbiMismatch",
        description: "the plugin speaks another ABI version",
        doc: &["The library speaks another plugin ABI version."],
    },
    Row {
        value: 205,
        name: "CreateFailed",
        description: "the plugin's create function returned NULL",
        doc: &["`aisopod_plugin_create` returned NULL."],
    },
    Row {
        value: 206,
        name: "InvalidPluginStruct",
        description: "the plugin struct is invalid",
        doc: &["The plugin struct is too small or lacks a mandatory function pointer."],
    },
    Row {
        value: 207,
        name: "IdMismatch",
        description: "the plugin's id differs from its manifest's",
        doc: &["The id the plugin reports differs from its manifest's."],
    },
    Row {
        value: 208,
        name: "RegistrationFailed",
        description: "the plugin's capability registration failed",
        doc: &["`register_capabilities` failed or a registration was refused."],
    },
    Row {
        value: 209,
        name: "CapabilityMismatch",
        description: "the plugin's registered capabilities differ from its manifest's",
        doc: &["The registered capabilities differ from those the manifest declares."],
    },
    Row {
        value: 210,
        name: "IntegrityMismatch",
        description: "the plugin's library does not match its manifest's sha256",
        doc: &[
            "The library's SHA-256 digest differs from the manifest's `[plugin].sha256`: it was replaced or corrupted",
            "after the manifest was written. The library was not opened with `dlopen`.",
        ],
    },
    Row {
        value: 211,
        name: "Unsigned",
        description: "the plugin has no signature, and the signature policy requires one",
        doc: &[
            "The plugin directory has no `aisopod.plugin.sig`, and the signature policy is",
            "`AISOPOD_SIGNATURES_REQUIRED`. The library was not opened with `dlopen`.",
        ],
    },
    Row {
        value: 212,
        name: "UnknownKey",
        description: "the plugin is signed by a key the host does not trust",
        doc: &[
            "The plugin's signature names a key id that no key passed to `aisopod_loader_trust_key` has, and the",
            "signature policy is `AISOPOD_SIGNATURES_REQUIRED`. The library was not opened with `dlopen`.",
        ],
    },
    Row {
        value: 213,
        name: "BadSignature",
        description: "the plugin's signature does not verify",
        doc: &[
            "The signature by a trusted key does not verify: the manifest or the library changed after signing.",
            "Refused under every signature policy. The library was not opened with `dlopen`.",
        ],
    },
    Row {
        value: 214,
        name: "MalformedSignature",
        description: "the plugin's signature file is malformed",
        doc: &[
            "The plugin's `aisopod.plugin.sig` is not a signature file this loader reads; the message names the",
            "file and the line. Refused under every signature policy. The library was not opened with `dlopen`.",
        ],
    },
    Row {
        value: 300,
        name: "InitFailed",
        description: "the plugin's init failed",
        doc: &["The plugin's `init` returned non-zero."],
    },
    Row {
        value: 301,
        name: "PluginError",
        description: "the plugin returned an error",
        doc: &["A handler returned non-zero."],
    },
    Row {
        value: 302,
        name: "PluginCrashed",
        description: "the plugin crashed or exited its process",
        doc: &[
            "Plugin code running in a helper process ended it: a signal (named in the message), `exit()` (with its",
            "code) or an abort. The message names the plugin and the step or call, and ends with the helper's",
            "stderr tail.",
        ],
    },
    Row {
        value: 303,
        name: "Timeout",
        description: "the plugin did not finish within its deadline",
        doc: &[
            "Plugin code running in a helper process did not finish within its deadline; the helper was killed.",
        ],
    },
    Row {
        value: 400,
        name: "HelperUnavailable",
        description: "the helper process cannot be found or started",
        doc: &[
            "`aisopod-plugin-host` cannot be found (the message lists every place tried) or started.",
        ],
    },
    Row {
        value: 401,
        name: "HelperMismatch",
        description: "the helper process is of another version",
        doc: &[
            "The helper refused the loader's handshake, or answered with another protocol, ABI or loader version;",
            "the message names both sides' values.",
        ],
    },
    Row {
        value: 402,
        name: "HelperFailed",
        description: "the helper process failed outside plugin code",
        doc: &[
            "The helper broke the protocol, its channel failed, or it ended while no plugin code was running.",
        ],
    },
    Row {
        value: 403,
        name: "SandboxUnavailable",
        description: "the kernel cannot enforce the plugin's sandbox",
        doc: &[
            "The sandbox policy requires a sandbox and this kernel has no Landlock (or the sandbox could not be set",
            "up); the message says which.",
        ],
    },
    Row {
        value: 900,
        name: "Panic",
        description: "an internal panic was caught",
        doc: &["A panic inside the loader was caught at the API boundary. The loader stays usable."],
    },
];
