//! A safe way to write a plugin in Rust: implement [`Plugin`] for a type and call [`export_plugin!`].
//!
//! The macro generates the two exported symbols; this module generates the vtable. Every entry point the
//! loader can call catches panics, so a panic becomes an error code ([`AISOPOD_PLUGIN_PANICKED`]) plus a log
//! line, and never unwinds into the host. No Rust trait object crosses the boundary: every function here is
//! monomorphised for the plugin type.
//!
//! ```ignore
//! struct Hello;
//! impl aisopod_loader::sdk::Plugin for Hello {
//!     const ID: &'static str = "rust_hello";
//!     fn create(_host: &Host) -> Option<Self> { Some(Hello) }
//!     fn register(registrar: &mut Registrar<Self>) {
//!         registrar.tool("greet", |_, input, out| out.write(input));
//!     }
//! }
//! aisopod_loader::export_plugin!(Hello);
//! ```
//!
//! Keep such a plugin resident (`unload = false` in its manifest): the Rust standard library registers
//! thread-local destructors that may run after the library would otherwise be unmapped.

use std::ffi::{c_char, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::Mutex;

use crate::abi::{
    aisopod_capability_kind, aisopod_host, aisopod_init_context, aisopod_plugin, aisopod_registrar, aisopod_sink,
    AISOPOD_CAPABILITY_CHANNEL, AISOPOD_CAPABILITY_COMMAND, AISOPOD_CAPABILITY_HOOK, AISOPOD_CAPABILITY_PROVIDER,
    AISOPOD_CAPABILITY_TOOL, AISOPOD_LOG_ERROR, AISOPOD_PLUGIN_PANICKED,
};

pub use crate::abi::aisopod_log_level as LogLevel;

/// A handler's result: `Err(code)` reports a plugin-defined, non-zero error code to the host.
pub type HandlerResult = Result<(), i32>;

/// A capability handler: the plugin, the input bytes, and where to write output.
pub type HandlerFn<P> = fn(&P, &[u8], &mut Output<'_>) -> HandlerResult;

/// A plugin written in Rust.
///
/// The value lives from `create` until the loader destroys the plugin. Handlers may run on several threads at
/// once (unless the manifest says `thread_safe = false`), hence `Sync`.
pub trait Plugin: Sized + Send + Sync + 'static {
    /// The plugin id; must equal `id` in the manifest.
    const ID: &'static str;

    /// Creates the plugin; `None` makes the load fail with `AISOPOD_STATUS_CREATE_FAILED`.
    fn create(host: &Host) -> Option<Self>;

    /// Registers every capability the manifest declares.
    fn register(registrar: &mut Registrar<Self>);

    /// Starts the plugin with the host's configuration. The default accepts any configuration.
    fn init(&self, _host: &Host, _config: &str, _data_dir: &Path) -> HandlerResult {
        Ok(())
    }

    /// Stops the plugin; called only after a successful `init`, once no handler runs.
    fn shutdown(&self, _host: &Host) {}
}

/// The host, as the loader gave it to the plugin. Valid for the plugin's whole life, on any thread.
pub struct Host {
    raw: *const aisopod_host,
}

// SAFETY: the ABI lets a plugin use the host's functions from any thread, concurrently.
unsafe impl Send for Host {}
unsafe impl Sync for Host {}

impl Host {
    /// Logs `message` at `level` (an `AISOPOD_LOG_*` value), attributed to this plugin.
    pub fn log(&self, level: LogLevel, message: &str) {
        let message = CString::new(message.replace('\0', "\\0")).expect("NULs replaced");
        // SAFETY: `raw` is the host struct the loader passed to create, valid until destroy returns.
        if let Some(log) = unsafe { self.raw.as_ref() }.and_then(|h| h.log) {
            unsafe { log(self.raw, level, message.as_ptr()) };
        }
    }

    /// The host application's version.
    pub fn host_version(&self) -> &str {
        // SAFETY: as in `log`; the version is a NUL-terminated string owned by the loader.
        unsafe { self.raw.as_ref() }
            .filter(|h| !h.host_version.is_null())
            .and_then(|h| unsafe { CStr::from_ptr(h.host_version) }.to_str().ok())
            .unwrap_or("")
    }

    /// The host extension registered under `id`, or null.
    pub fn extension(&self, id: &str) -> *const c_void {
        let Ok(id) = CString::new(id) else { return std::ptr::null() };
        // SAFETY: as in `log`.
        match unsafe { self.raw.as_ref() }.and_then(|h| h.get_extension) {
            Some(get_extension) => unsafe { get_extension(self.raw, id.as_ptr()) },
            None => std::ptr::null(),
        }
    }

    /// Interface `extension_id` of plugin `dependency_id`, which the manifest must name in `[dependencies]`; null
    /// when it does not, when that plugin is not loaded in this process or has no such interface, or when the
    /// loader predates the function.
    pub fn dependency_extension(&self, dependency_id: &str, extension_id: &str) -> *const c_void {
        let (Ok(dependency_id), Ok(extension_id)) = (CString::new(dependency_id), CString::new(extension_id)) else {
            return std::ptr::null();
        };
        // SAFETY: as in `log`; the function is read only when the loader's struct has it.
        let host = unsafe { self.raw.as_ref() };
        let covers = |h: &&aisopod_host| {
            h.struct_size as usize >= std::mem::offset_of!(aisopod_host, get_dependency_extension) + size_of::<usize>()
        };
        match host.filter(covers).and_then(|h| h.get_dependency_extension) {
            Some(get) => unsafe { get(self.raw, dependency_id.as_ptr(), extension_id.as_ptr()) },
            None => std::ptr::null(),
        }
    }
}

/// Where a handler writes its output; the host copies every write.
pub struct Output<'a> {
    sink: &'a aisopod_sink,
}

impl Output<'_> {
    /// Appends `bytes`; `Err(1)` when the host refuses more output.
    pub fn write(&mut self, bytes: &[u8]) -> HandlerResult {
        let Some(write) = self.sink.write else { return Err(1) };
        // SAFETY: the sink is valid during the handler call, and `bytes` is readable.
        match unsafe { write(self.sink.context, bytes.as_ptr(), bytes.len()) } {
            0 => Ok(()),
            _ => Err(1),
        }
    }
}

/// Collects a plugin's capabilities during registration.
pub struct Registrar<P: Plugin> {
    entries: Vec<(aisopod_capability_kind, CString, HandlerFn<P>)>,
}

impl<P: Plugin> Registrar<P> {
    /// Registers a tool.
    pub fn tool(&mut self, name: &str, handler: HandlerFn<P>) -> &mut Self {
        self.add(AISOPOD_CAPABILITY_TOOL, name, handler)
    }

    /// Registers a command.
    pub fn command(&mut self, name: &str, handler: HandlerFn<P>) -> &mut Self {
        self.add(AISOPOD_CAPABILITY_COMMAND, name, handler)
    }

    /// Registers a channel.
    pub fn channel(&mut self, name: &str, handler: HandlerFn<P>) -> &mut Self {
        self.add(AISOPOD_CAPABILITY_CHANNEL, name, handler)
    }

    /// Registers a provider.
    pub fn provider(&mut self, name: &str, handler: HandlerFn<P>) -> &mut Self {
        self.add(AISOPOD_CAPABILITY_PROVIDER, name, handler)
    }

    /// Registers a hook for `event`.
    pub fn hook(&mut self, event: &str, handler: HandlerFn<P>) -> &mut Self {
        self.add(AISOPOD_CAPABILITY_HOOK, event, handler)
    }

    fn add(&mut self, kind: aisopod_capability_kind, name: &str, handler: HandlerFn<P>) -> &mut Self {
        // A name with a NUL can never match a manifest entry; the loader then reports it as undeclared-missing.
        let name = CString::new(name).unwrap_or_else(|_| CString::from(c"\u{FFFD}"));
        self.entries.push((kind, name, handler));
        self
    }
}

/// The plugin's state: the ABI struct first, so the pointer the loader holds can be cast back.
#[repr(C)]
struct State<P: Plugin> {
    abi: aisopod_plugin,
    host: Host,
    id: CString,
    plugin: P,
    /// Registered handlers; each entry's address is its handler's userdata. Touched only by register and
    /// destroy, which the ABI never runs concurrently with anything else.
    #[allow(clippy::vec_box)] // Boxed so each entry keeps its address, the userdata, as the vector grows.
    handlers: Mutex<Vec<Box<Entry<P>>>>,
}

struct Entry<P: Plugin> {
    state: *const State<P>,
    function: HandlerFn<P>,
}

/// Runs plugin code, turning a panic into [`AISOPOD_PLUGIN_PANICKED`] and a log line.
fn guard<R>(host: Option<&Host>, what: &str, on_panic: R, f: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            if let Some(host) = host {
                let why = payload
                    .downcast_ref::<&str>()
                    .copied()
                    .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                    .unwrap_or("(no message)");
                host.log(AISOPOD_LOG_ERROR, &format!("{what} panicked: {why}"));
            }
            on_panic
        }
    }
}

fn code(result: HandlerResult) -> i32 {
    match result {
        Ok(()) => 0,
        Err(0) => -1,
        Err(code) => code,
    }
}

/// # Safety
/// `plugin` is a pointer this module returned from `create` that has not been destroyed.
unsafe fn state<'a, P: Plugin>(plugin: *const aisopod_plugin) -> &'a State<P> {
    // SAFETY: forwarded to the caller; the pointer covers the whole `State<P>`.
    unsafe { &*plugin.cast::<State<P>>() }
}

/// The body of the generated `aisopod_plugin_create`.
///
/// # Safety
/// Called by the loader with the host struct it owns, as the ABI describes.
#[doc(hidden)]
pub unsafe fn create<P: Plugin>(host: *const aisopod_host) -> *const aisopod_plugin {
    let host = Host { raw: host };
    let created = guard(Some(&host), "create", None, || P::create(&host));
    let Some(plugin) = created else { return std::ptr::null() };
    let Ok(id) = CString::new(P::ID) else { return std::ptr::null() };
    let state = Box::new(State {
        abi: aisopod_plugin {
            struct_size: std::mem::size_of::<aisopod_plugin>() as u32,
            #[cfg(target_pointer_width = "64")]
            reserved: 0,
            plugin_data: std::ptr::null_mut(),
            id: id.as_ptr(),
            register_capabilities: Some(register_capabilities::<P>),
            init: Some(init::<P>),
            shutdown: Some(shutdown::<P>),
            destroy: Some(destroy::<P>),
            get_extension: None,
        },
        host,
        id,
        plugin,
        handlers: Mutex::new(Vec::new()),
    });
    Box::into_raw(state).cast::<aisopod_plugin>()
}

unsafe extern "C" fn register_capabilities<P: Plugin>(
    plugin: *const aisopod_plugin,
    registrar: *const aisopod_registrar,
) -> i32 {
    // SAFETY: the loader passes back our own plugin pointer, by the ABI.
    let state = unsafe { state::<P>(plugin) };
    guard(Some(&state.host), "register", AISOPOD_PLUGIN_PANICKED, || {
        let Some(registrar) = (unsafe { registrar.as_ref() }) else { return 1 };
        let Some(register) = registrar.register_capability else { return 1 };
        let mut collected = Registrar { entries: Vec::new() };
        P::register(&mut collected);
        let mut handlers = state.handlers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut failed = 0;
        for (kind, name, function) in collected.entries {
            let entry = Box::new(Entry { state, function });
            let userdata = &*entry as *const Entry<P> as *mut c_void;
            handlers.push(entry);
            // SAFETY: the registrar is valid during this call; the name is NUL-terminated.
            let status = unsafe { register(registrar, kind, name.as_ptr(), Some(handle::<P>), userdata) };
            if status != 0 {
                failed = status;
            }
        }
        failed
    })
}

unsafe extern "C" fn handle<P: Plugin>(
    userdata: *mut c_void,
    input: *const u8,
    input_len: usize,
    sink: *const aisopod_sink,
) -> i32 {
    // SAFETY: `userdata` is an `Entry<P>` registered above, alive until destroy; the loader passes `input_len`
    // readable bytes and a valid sink, never NULL.
    let entry = unsafe { &*userdata.cast::<Entry<P>>() };
    let state = unsafe { &*entry.state };
    guard(Some(&state.host), "handler", AISOPOD_PLUGIN_PANICKED, || {
        let (Some(sink), false) = (unsafe { sink.as_ref() }, input.is_null()) else { return 1 };
        let input = unsafe { std::slice::from_raw_parts(input, input_len) };
        code((entry.function)(&state.plugin, input, &mut Output { sink }))
    })
}

unsafe extern "C" fn init<P: Plugin>(plugin: *const aisopod_plugin, context: *const aisopod_init_context) -> i32 {
    // SAFETY: as in `register_capabilities`; the context and its strings are valid during the call.
    let state = unsafe { state::<P>(plugin) };
    guard(Some(&state.host), "init", AISOPOD_PLUGIN_PANICKED, || {
        let Some(context) = (unsafe { context.as_ref() }) else { return 1 };
        let text = |ptr: *const c_char| {
            if ptr.is_null() {
                Some("")
            } else {
                unsafe { CStr::from_ptr(ptr) }.to_str().ok()
            }
        };
        let (Some(config), Some(data_dir)) = (text(context.config), text(context.data_dir)) else { return 1 };
        code(state.plugin.init(&state.host, config, Path::new(data_dir)))
    })
}

unsafe extern "C" fn shutdown<P: Plugin>(plugin: *const aisopod_plugin) {
    // SAFETY: as in `register_capabilities`.
    let state = unsafe { state::<P>(plugin) };
    guard(Some(&state.host), "shutdown", (), || state.plugin.shutdown(&state.host));
}

unsafe extern "C" fn destroy<P: Plugin>(plugin: *const aisopod_plugin) {
    // SAFETY: the loader calls destroy once, last; the pointer came from `Box::into_raw` in `create`.
    let state = unsafe { Box::from_raw(plugin.cast_mut().cast::<State<P>>()) };
    // A panicking Drop of the plugin's value must not unwind into the loader either.
    let _ = catch_unwind(AssertUnwindSafe(move || drop(state)));
}

/// Exports a [`Plugin`] type as this library's plugin: defines `aisopod_plugin_abi_version` and
/// `aisopod_plugin_create`.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        #[no_mangle]
        pub extern "C" fn aisopod_plugin_abi_version() -> u32 {
            $crate::abi::AISOPOD_ABI_VERSION
        }

        /// # Safety
        /// Called by the loader, as plugin ABI v1 describes.
        #[no_mangle]
        pub unsafe extern "C" fn aisopod_plugin_create(
            host: *const $crate::abi::aisopod_host,
        ) -> *const $crate::abi::aisopod_plugin {
            // SAFETY: forwarded from the loader.
            unsafe { $crate::sdk::create::<$plugin>(host) }
        }
    };
}
