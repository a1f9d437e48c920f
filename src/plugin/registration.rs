//! Registration: the registrar a plugin's `register_capabilities` calls, and the check of what it registered
//! against what its manifest declares.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::{c_char, c_void, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::describe_code;
use super::guard::in_plugin;
use crate::abi::{aisopod_capability_kind, aisopod_handler, aisopod_plugin, aisopod_registrar};
use crate::cache::BuildFnv;
use crate::capability_kind::{CapabilityKind, PerKind};
use crate::discovery::PluginInfo;
use crate::error::{Error, Result, Status};
use crate::manifest::check_capability_name;

/// A handler as registered: the function and its userdata.
#[derive(Clone, Copy)]
pub(super) struct Handler {
    pub(super) function: unsafe extern "C" fn(*mut c_void, *const u8, usize, *const crate::abi::aisopod_sink) -> i32,
    pub(super) userdata: *mut c_void,
}

/// A plugin's handlers by kind, then by name.
pub(super) type Handlers = PerKind<HashMap<String, Handler, BuildFnv>>;

thread_local! {
    /// The registration in progress on this thread, during `register_capabilities`.
    static REGISTRATION: RefCell<Option<Registration>> = const { RefCell::new(None) };
}

/// What `register_capability` collects during `register_capabilities`.
#[derive(Default)]
struct Registration {
    handlers: Handlers,
    refused: Vec<String>,
}

impl Registration {
    fn add(
        &mut self,
        kind: aisopod_capability_kind,
        name: *const c_char,
        handler: aisopod_handler,
        userdata: *mut c_void,
    ) -> Status {
        // Named only in a refusal: a registration that is accepted formats nothing.
        let kind_name = || {
            CapabilityKind::from_abi(kind)
                .map_or_else(|| format!("capability of unknown kind {kind}"), |k| k.to_string())
        };
        if name.is_null() {
            self.refused.push(format!("a {} with a NULL name", kind_name()));
            return Status::NullArgument;
        }
        // SAFETY: a non-null name is NUL-terminated, by the ABI.
        let Ok(name) = unsafe { CStr::from_ptr(name) }.to_str() else {
            self.refused.push(format!("a {} whose name is not UTF-8", kind_name()));
            return Status::InvalidUtf8;
        };
        let Some(kind) = CapabilityKind::from_abi(kind) else {
            self.refused.push(format!("'{name}', a {}", kind_name()));
            return Status::InvalidArgument;
        };
        if let Err(why) = check_capability_name(name) {
            self.refused.push(format!("{kind} '{name}': {why}"));
            return Status::InvalidArgument;
        }
        let Some(function) = handler else {
            self.refused.push(format!("{kind} '{name}' with a NULL handler"));
            return Status::NullArgument;
        };
        if self.handlers[kind].contains_key(name) {
            self.refused.push(format!("{kind} '{name}' registered twice"));
            return Status::InvalidArgument;
        }
        self.handlers[kind].insert(name.to_owned(), Handler { function, userdata });
        Status::Ok
    }
}

/// The registrar's function. It ignores the registrar pointer and uses this thread's registration, so a
/// registrar kept past `register_capabilities`, or used from another thread, is refused instead of touching
/// freed memory.
unsafe extern "C" fn register_capability(
    _registrar: *const aisopod_registrar,
    kind: aisopod_capability_kind,
    name: *const c_char,
    handler: aisopod_handler,
    userdata: *mut c_void,
) -> i32 {
    let status = catch_unwind(AssertUnwindSafe(|| {
        REGISTRATION
            .try_with(|registration| match registration.try_borrow_mut().as_deref_mut() {
                Ok(Some(registration)) => registration.add(kind, name, handler, userdata),
                _ => Status::InvalidArgument,
            })
            .unwrap_or(Status::InvalidArgument)
    }));
    status.unwrap_or(Status::Panic) as i32
}

/// Calls `register_capabilities` and checks the registrations against the manifest.
pub(super) fn register(
    register_capabilities: unsafe extern "C" fn(*const aisopod_plugin, *const aisopod_registrar) -> i32,
    vtable: *const aisopod_plugin,
    info: &PluginInfo,
) -> Result<Handlers> {
    let manifest = &info.manifest;
    let id = &manifest.id;
    let registrar = aisopod_registrar {
        struct_size: std::mem::size_of::<aisopod_registrar>() as u32,
        #[cfg(target_pointer_width = "64")]
        reserved: 0,
        context: std::ptr::null_mut(),
        register_capability: Some(register_capability),
    };
    REGISTRATION.with(|r| *r.borrow_mut() = Some(Registration::default()));
    // SAFETY: the vtable was validated; the registrar outlives the call.
    let code = in_plugin(|| unsafe { register_capabilities(vtable, &registrar) });
    let registration = REGISTRATION.with(|r| r.borrow_mut().take()).unwrap_or_default();
    if !registration.refused.is_empty() {
        return Err(Error::new(
            Status::RegistrationFailed,
            format!("plugin '{id}': registration refused: {}", registration.refused.join("; ")),
        ));
    }
    if code != 0 {
        return Err(Error::new(
            Status::RegistrationFailed,
            format!("plugin '{id}': register_capabilities returned {}", describe_code(code)),
        ));
    }
    let mut problems = Vec::new();
    for kind in CapabilityKind::ALL {
        let declared = manifest.declared(kind);
        let registered = &registration.handlers[kind];
        let key = kind.manifest_key();
        let mut undeclared: Vec<&String> = registered.keys().filter(|name| !declared.contains(name)).collect();
        undeclared.sort();
        for name in undeclared {
            problems.push(format!("registered {kind} '{name}', which [capabilities].{key} does not declare"));
        }
        for name in declared.iter().filter(|name| !registered.contains_key(*name)) {
            problems.push(format!("declares {kind} '{name}' in [capabilities].{key} but never registered it"));
        }
    }
    if !problems.is_empty() {
        return Err(Error::new(
            Status::CapabilityMismatch,
            format!("plugin '{id}' ({}): {}", info.manifest_path().display(), problems.join("; ")),
        ));
    }
    Ok(registration.handlers)
}
