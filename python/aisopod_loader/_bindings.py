"""The ctypes declaration of every function of include/aisopod_loader.h that libaisopod_loader exports.

Written by hand, one entry per prototype, in the header's spelling of C types mapped to ctypes.
python/tests/test_bindings.py parses the header and fails when a function, a parameter type, a callback or
a constant here differs from it, or when a function here is not called by the package.
"""

from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_bool,
    c_char_p,
    c_int32,
    c_int64,
    c_size_t,
    c_uint32,
    c_uint64,
    c_void_p,
)


class LoaderHandle(Structure):
    """The opaque `aisopod_loader`."""


class PluginInfoHandle(Structure):
    """The opaque `aisopod_plugin_info`."""


class DiagnosticHandle(Structure):
    """The opaque `aisopod_diagnostic`."""


class CapabilityHandle(Structure):
    """The opaque `aisopod_capability`."""


class ProbeResultsHandle(Structure):
    """The opaque `aisopod_probe_results`."""


class QuarantineEntryHandle(Structure):
    """The opaque `aisopod_quarantine_entry`."""


#: `int32_t (*write)(void *context, const uint8_t *data, size_t len)`. `data` arrives as an address, which
#: `ctypes.string_at` copies from.
SINK_WRITE = CFUNCTYPE(c_int32, c_void_p, c_void_p, c_size_t)


class Sink(Structure):
    """`aisopod_sink`: where a handler writes its output."""

    _fields_ = [("context", c_void_p), ("write", SINK_WRITE)]


class ResourceLimitsStruct(Structure):
    """`aisopod_resource_limits`: an isolated plugin's helper process limits; 0 is no limit."""

    _fields_ = [("address_space_bytes", c_uint64), ("cpu_seconds", c_uint64), ("open_files", c_uint64)]


class PluginUsageStruct(Structure):
    """`aisopod_plugin_usage`: what an isolated plugin's helper processes have used."""

    _fields_ = [
        ("cpu_user_us", c_uint64),
        ("cpu_system_us", c_uint64),
        ("peak_rss_bytes", c_uint64),
        ("calls", c_uint64),
        ("restarts", c_uint32),
        ("pid", c_int32),
    ]


class PluginMetricsStruct(Structure):
    """`aisopod_plugin_metrics`: what a loaded plugin has cost; the caller sets `struct_size` first."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("reserved", c_uint32),
        ("load_ns", c_uint64),
        ("init_ns", c_uint64),
        ("calls", c_uint64),
        ("failures", c_uint64),
        ("total_ns", c_uint64),
        ("cpu_ns", c_uint64),
    ]


class CapabilityMetricsStruct(Structure):
    """`aisopod_capability_metrics`: what one capability has cost; the caller sets `struct_size` first."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("reserved", c_uint32),
        ("count", c_uint64),
        ("failures", c_uint64),
        ("total_ns", c_uint64),
        ("p50_ns", c_uint64),
        ("p99_ns", c_uint64),
        ("cpu_ns", c_uint64),
    ]


#: `aisopod_log_callback`: `void (*)(void *userdata, aisopod_log_level level, const char *source,
#: const char *message)`.
LOG_CALLBACK = CFUNCTYPE(None, c_void_p, c_uint32, c_char_p, c_char_p)

#: The C struct behind each `struct aisopod_<name>` the functions take.
STRUCTS = {
    "aisopod_loader": LoaderHandle,
    "aisopod_plugin_info": PluginInfoHandle,
    "aisopod_diagnostic": DiagnosticHandle,
    "aisopod_capability": CapabilityHandle,
    "aisopod_probe_results": ProbeResultsHandle,
    "aisopod_quarantine_entry": QuarantineEntryHandle,
    "aisopod_sink": Sink,
    "aisopod_resource_limits": ResourceLimitsStruct,
    "aisopod_plugin_usage": PluginUsageStruct,
    "aisopod_plugin_metrics": PluginMetricsStruct,
    "aisopod_capability_metrics": CapabilityMetricsStruct,
}

#: The function-pointer typedefs the functions take.
CALLBACKS = {"aisopod_log_callback": LOG_CALLBACK}

# `aisopod_status`, `aisopod_capability_kind`, `aisopod_log_level`, `aisopod_plugin_state`, `aisopod_isolation`,
# `aisopod_permission`, `aisopod_sandbox_policy`, `aisopod_file_policy` and `aisopod_signature_policy` are
# uint32_t.
_status = c_uint32
_kind = c_uint32
_isolation = c_uint32
_permission = c_uint32
_sandbox_policy = c_uint32
_file_policy = c_uint32
_signature_policy = c_uint32
_loader = POINTER(LoaderHandle)
_info = POINTER(PluginInfoHandle)
_diagnostic = POINTER(DiagnosticHandle)
_capability = POINTER(CapabilityHandle)
_results = POINTER(ProbeResultsHandle)
_entry = POINTER(QuarantineEntryHandle)
# `const uint8_t *` input: a c_void_p takes a bytes object without copying it.
_bytes = c_void_p

#: name -> (restype, argtypes), in the header's order.
FUNCTIONS = {
    "aisopod_loader_resolve": (_status, (_loader, c_char_p, _kind, c_char_p, POINTER(_capability))),
    "aisopod_capability_invoke": (_status, (_capability, _bytes, c_size_t, POINTER(Sink))),
    "aisopod_capability_free": (None, (_capability,)),
    "aisopod_diagnostic_free": (None, (_diagnostic,)),
    "aisopod_diagnostic_path": (c_char_p, (_diagnostic,)),
    "aisopod_diagnostic_status": (_status, (_diagnostic,)),
    "aisopod_diagnostic_message": (c_char_p, (_diagnostic,)),
    "aisopod_loader_new": (_status, (c_char_p, POINTER(_loader))),
    "aisopod_loader_free": (None, (_loader,)),
    "aisopod_loader_error_message": (c_char_p, (_loader,)),
    "aisopod_loader_add_search_path": (_status, (_loader, c_char_p)),
    "aisopod_loader_use_env_path": (_status, (_loader, c_bool)),
    "aisopod_loader_use_default_paths": (_status, (_loader, c_bool)),
    "aisopod_loader_set_log_callback": (_status, (_loader, LOG_CALLBACK, c_void_p)),
    "aisopod_loader_set_host_extension": (_status, (_loader, c_char_p, c_void_p)),
    "aisopod_loader_set_cache_path": (_status, (_loader, c_char_p)),
    "aisopod_loader_use_default_cache": (_status, (_loader,)),
    "aisopod_loader_discover": (_status, (_loader, POINTER(c_size_t))),
    "aisopod_loader_plugin_count": (_status, (_loader, POINTER(c_size_t))),
    "aisopod_loader_plugin_at": (_status, (_loader, c_size_t, POINTER(_info))),
    "aisopod_loader_find_plugin": (_status, (_loader, c_char_p, POINTER(_info))),
    "aisopod_loader_diagnostic_count": (_status, (_loader, POINTER(c_size_t))),
    "aisopod_loader_diagnostic_at": (_status, (_loader, c_size_t, POINTER(_diagnostic))),
    "aisopod_loader_set_helper_path": (_status, (_loader, c_char_p)),
    "aisopod_loader_set_call_timeout": (_status, (_loader, c_char_p, c_uint32)),
    "aisopod_loader_set_probe_on_discover": (_status, (_loader, c_bool)),
    # `const char *const *ids`: an array of c_char_p passes as a pointer to its first element.
    "aisopod_loader_probe": (_status, (_loader, POINTER(c_char_p), c_size_t, c_char_p, POINTER(_results))),
    "aisopod_loader_quarantine_count": (_status, (_loader, POINTER(c_size_t))),
    "aisopod_loader_quarantine_at": (_status, (_loader, c_size_t, POINTER(_entry))),
    "aisopod_loader_quarantine_clear": (_status, (_loader, c_char_p, POINTER(c_size_t))),
    "aisopod_loader_set_isolation": (_status, (_loader, c_char_p, _isolation)),
    "aisopod_loader_set_restart_policy": (_status, (_loader, c_char_p, c_uint32, c_uint32)),
    "aisopod_loader_set_resource_limits": (_status, (_loader, c_char_p, POINTER(ResourceLimitsStruct))),
    "aisopod_loader_plugin_usage": (_status, (_loader, c_char_p, POINTER(PluginUsageStruct))),
    "aisopod_loader_set_metrics": (_status, (_loader, c_bool)),
    "aisopod_loader_plugin_metrics": (_status, (_loader, c_char_p, POINTER(PluginMetricsStruct))),
    "aisopod_loader_capability_metrics": (
        _status,
        (_loader, c_char_p, _kind, c_char_p, POINTER(CapabilityMetricsStruct)),
    ),
    # `char **json_out`: the caller passes the same `c_char_p` object to the free, which keeps its address.
    "aisopod_loader_report_json": (_status, (_loader, POINTER(c_char_p))),
    "aisopod_loader_report_free": (None, (c_char_p,)),
    "aisopod_loader_grant": (_status, (_loader, c_char_p, _permission, c_char_p)),
    "aisopod_loader_revoke_grants": (_status, (_loader, c_char_p)),
    "aisopod_loader_set_sandbox_policy": (_status, (_loader, _sandbox_policy)),
    "aisopod_loader_load": (_status, (_loader, c_char_p)),
    "aisopod_loader_init": (_status, (_loader, c_char_p, c_char_p, c_char_p)),
    "aisopod_loader_invoke": (_status, (_loader, c_char_p, _kind, c_char_p, _bytes, c_size_t, POINTER(Sink))),
    "aisopod_loader_emit": (_status, (_loader, c_char_p, _bytes, c_size_t, POINTER(Sink), POINTER(c_size_t))),
    "aisopod_loader_plugin_extension": (_status, (_loader, c_char_p, c_char_p, POINTER(c_void_p))),
    "aisopod_loader_plugin_state": (_status, (_loader, c_char_p, POINTER(c_uint32))),
    "aisopod_loader_unload": (_status, (_loader, c_char_p)),
    "aisopod_loader_unload_cascade": (_status, (_loader, c_char_p)),
    "aisopod_loader_require": (_status, (_loader, c_char_p, c_char_p)),
    "aisopod_loader_set_config": (_status, (_loader, c_char_p, c_char_p, c_char_p)),
    "aisopod_loader_set_lazy": (_status, (_loader, c_bool)),
    "aisopod_loader_reload": (_status, (_loader, c_char_p)),
    "aisopod_loader_poll_changes": (_status, (_loader, POINTER(c_size_t))),
    "aisopod_loader_plugin_generation": (_status, (_loader, c_char_p, POINTER(c_uint64))),
    "aisopod_plugin_info_free": (None, (_info,)),
    "aisopod_plugin_info_id": (c_char_p, (_info,)),
    "aisopod_plugin_info_name": (c_char_p, (_info,)),
    "aisopod_plugin_info_version": (c_char_p, (_info,)),
    "aisopod_plugin_info_description": (c_char_p, (_info,)),
    "aisopod_plugin_info_author": (c_char_p, (_info,)),
    "aisopod_plugin_info_directory": (c_char_p, (_info,)),
    "aisopod_plugin_info_manifest_path": (c_char_p, (_info,)),
    "aisopod_plugin_info_library_path": (c_char_p, (_info,)),
    "aisopod_plugin_info_min_host_version": (c_char_p, (_info,)),
    "aisopod_plugin_info_max_host_version": (c_char_p, (_info,)),
    "aisopod_plugin_info_license": (c_char_p, (_info,)),
    "aisopod_plugin_info_homepage": (c_char_p, (_info,)),
    "aisopod_plugin_info_repository": (c_char_p, (_info,)),
    "aisopod_plugin_info_sha256": (c_char_p, (_info,)),
    "aisopod_plugin_info_thread_safe": (c_bool, (_info,)),
    "aisopod_plugin_info_unloadable": (c_bool, (_info,)),
    "aisopod_plugin_info_capability_count": (c_size_t, (_info, _kind)),
    "aisopod_plugin_info_capability_at": (c_char_p, (_info, _kind, c_size_t)),
    "aisopod_plugin_info_dependency_count": (c_size_t, (_info,)),
    "aisopod_plugin_info_dependency_id": (c_char_p, (_info, c_size_t)),
    "aisopod_plugin_info_dependency_requirement": (c_char_p, (_info, c_size_t)),
    "aisopod_plugin_info_dependency_optional": (c_bool, (_info, c_size_t)),
    "aisopod_probe_results_free": (None, (_results,)),
    "aisopod_probe_results_count": (c_size_t, (_results,)),
    "aisopod_probe_results_plugin_id": (c_char_p, (_results, c_size_t)),
    "aisopod_probe_results_status": (_status, (_results, c_size_t)),
    "aisopod_probe_results_message": (c_char_p, (_results, c_size_t)),
    "aisopod_probe_results_failed_step": (c_char_p, (_results, c_size_t)),
    "aisopod_probe_results_step_count": (c_size_t, (_results, c_size_t)),
    "aisopod_probe_results_step_at": (
        _status,
        (_results, c_size_t, c_size_t, POINTER(c_char_p), POINTER(c_uint64)),
    ),
    "aisopod_probe_results_capability_count": (c_size_t, (_results, c_size_t, _kind)),
    "aisopod_probe_results_capability_at": (c_char_p, (_results, c_size_t, _kind, c_size_t)),
    "aisopod_probe_results_ending": (_status, (_results, c_size_t, POINTER(c_int32), POINTER(c_int32))),
    "aisopod_probe_results_stderr": (c_char_p, (_results, c_size_t)),
    "aisopod_quarantine_entry_free": (None, (_entry,)),
    "aisopod_quarantine_entry_plugin_id": (c_char_p, (_entry,)),
    "aisopod_quarantine_entry_library_path": (c_char_p, (_entry,)),
    "aisopod_quarantine_entry_status": (_status, (_entry,)),
    "aisopod_quarantine_entry_reason": (c_char_p, (_entry,)),
    "aisopod_quarantine_entry_since": (_status, (_entry, POINTER(c_int64))),
    "aisopod_status_str": (c_char_p, (c_uint32,)),
    "aisopod_loader_version": (c_char_p, ()),
    "aisopod_loader_set_file_policy": (_status, (_loader, _file_policy)),
    "aisopod_loader_allow": (_status, (_loader, c_char_p)),
    "aisopod_loader_deny": (_status, (_loader, c_char_p)),
    "aisopod_loader_clear_lists": (_status, (_loader,)),
    "aisopod_loader_set_signature_policy": (_status, (_loader, _signature_policy)),
    "aisopod_loader_trust_key": (_status, (_loader, _bytes, c_size_t)),
}
