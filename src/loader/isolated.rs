//! A plugin run in a helper process of its own: loading it there, calls through the channel with deadlines,
//! what happens when it crashes (its state, and restarts), and what its process uses.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use super::probing::IsolationSettings;
use crate::abi::aisopod_sink;
use crate::capability_kind::{CapabilityKind, PerKind};
use crate::discovery::PluginInfo;
use crate::error::{Error, Result, Status};
use crate::isolation::batch::START_TIMEOUT;
use crate::isolation::child::{Child, Usage};
use crate::isolation::connection::{Connection, Died};
use crate::isolation::ending::{append_stderr_line, helper_clause, plugin_ended};
use crate::isolation::protocol::hosting::{
    decode_loaded, CallResult, EmitRequest, InitRequest, InvokeRequest, LoadRequest, ResourceLimits,
};
use crate::isolation::protocol::FrameKind;
use crate::metrics::{CapabilityStats, PluginStats};
use crate::plugin::{check_library, check_signature, HostShared};
use crate::sync::{lock, read, write};
use crate::trust::{FilePolicy, Signatures};

/// How long an unloading helper is given to exit after its plugin is unloaded.
const EXIT_GRACE: Duration = Duration::from_millis(500);

/// How many times, and after how long, a crashed isolated plugin is started again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RestartPolicy {
    /// At most this many restarts over the plugin's load; 0 never restarts it.
    pub max_restarts: u32,
    /// The wait before the first restart, doubled before each next one.
    pub backoff: Duration,
}

/// What an isolated plugin's processes have used since it was loaded, restarts included.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PluginUsage {
    /// CPU time in user mode, in microseconds.
    pub user_micros: u64,
    /// CPU time in the kernel, in microseconds.
    pub system_micros: u64,
    /// The largest resident set any of its processes reached, in bytes.
    pub peak_rss_bytes: u64,
    /// Calls made into it: `init`, handler calls and hooks that ran.
    pub calls: u64,
    /// How many times it was started again after a crash.
    pub restarts: u32,
}

/// A plugin hosted by a helper process.
pub(crate) struct IsolatedPlugin {
    pub(crate) info: Arc<PluginInfo>,
    host_version: String,
    settings: Arc<RwLock<IsolationSettings>>,
    shared: Arc<HostShared>,
    /// The file policy the plugin was loaded under, which its restarts check the library under again.
    files: FilePolicy,
    /// The signature settings the plugin was loaded under, which its restarts check the plugin under again.
    signatures: Signatures,
    session: RwLock<Session>,
    pub(crate) pins: AtomicUsize,
    /// Which load of the plugin this is, and whether a reload replaced it.
    pub(crate) generation: crate::plugin::Generation,
    calls: AtomicU64,
    /// What its calls cost, seen from this process, while metrics are on.
    pub(crate) metrics: PluginStats,
    /// What ended helpers used: CPU summed, peak the largest.
    past: Mutex<Usage>,
}

struct Session {
    /// The helper, while it runs the plugin.
    connection: Option<Arc<Connection>>,
    capabilities: PerKind<Vec<String>>,
    /// The config and data directory `init` succeeded with, to start the plugin again with.
    init: Option<(String, PathBuf)>,
    init_failed: bool,
    /// Why the plugin is down, and since when; `None` while it runs.
    crash: Option<(Error, Instant)>,
    restarts: u32,
}

impl IsolatedPlugin {
    /// Starts a helper and loads `info`'s plugin in it, once its library passed the file policy `files` and its
    /// signature passed `signatures` here.
    pub(crate) fn load(
        info: Arc<PluginInfo>,
        host_version: &str,
        settings: &Arc<RwLock<IsolationSettings>>,
        shared: &Arc<HostShared>,
        files: FilePolicy,
        signatures: Signatures,
    ) -> Result<IsolatedPlugin> {
        let plugin = IsolatedPlugin {
            info,
            host_version: host_version.to_owned(),
            settings: settings.clone(),
            shared: shared.clone(),
            files,
            signatures,
            session: RwLock::new(Session {
                connection: None,
                capabilities: PerKind::default(),
                init: None,
                init_failed: false,
                crash: None,
                restarts: 0,
            }),
            pins: AtomicUsize::new(0),
            generation: Default::default(),
            calls: AtomicU64::new(0),
            metrics: PluginStats::default(),
            past: Mutex::new(Usage::default()),
        };
        let (connection, capabilities) = plugin.start()?;
        let mut session = write(&plugin.session);
        session.connection = Some(connection);
        session.capabilities = capabilities;
        drop(session);
        Ok(plugin)
    }

    fn id(&self) -> &str {
        &self.info.manifest.id
    }

    fn timeout(&self) -> Duration {
        read(&self.settings).call_timeout_of(self.id())
    }

    /// A new helper with the plugin loaded in it, and what the plugin registered.
    fn start(&self) -> Result<(Arc<Connection>, PerKind<Vec<String>>)> {
        // The helper loads what it is sent without checking who could have written it, or who signed it.
        if let Ok(host_version) = semver::Version::parse(&self.host_version) {
            check_library(&self.info, &host_version, self.files, &self.shared)?;
            check_signature(&self.info, &host_version, &self.signatures, &self.shared)?;
        }
        let (helper, limits, sandbox) = {
            let settings = read(&self.settings);
            (settings.helper_path.clone(), settings.limits_of(self.id()), settings.sandbox_of(&self.info))
        };
        let helper = crate::isolation::locate::locate(helper.as_deref())?;
        let child = Child::spawn(&helper.path, Instant::now() + START_TIMEOUT).map_err(|failure| failure.error)?;
        let shared = self.shared.clone();
        let on_log = Box::new(move |record: crate::isolation::protocol::hosting::LogRecord| {
            shared.logger.log_from(record.level, &record.source, &record.message);
        });
        let connection = Arc::new(Connection::new(child, on_log).map_err(|e| {
            Error::new(Status::HelperFailed, format!("plugin '{}': cannot use its helper: {e}", self.id()))
        })?);
        let request = LoadRequest {
            plugin_dir: self.info.directory.clone(),
            host_version: self.host_version.clone(),
            limits: ResourceLimits { ..limits },
            sandbox,
        };
        let payload = request.encode().map_err(|e| Error::new(Status::InvalidArgument, e.to_string()))?;
        let result = self.exchange(&connection, FrameKind::LOAD, &payload, format_args!("load"), None);
        let capabilities = result.and_then(|body| {
            decode_loaded(&body)
                .map_err(|e| Error::new(Status::HelperFailed, format!("plugin '{}': its helper sent {e}", self.id())))
        });
        match capabilities {
            Ok(capabilities) => Ok((connection, capabilities)),
            Err(error) => {
                self.retire(&connection);
                Err(error)
            }
        }
    }

    /// Sends one request and returns the body of its successful `Result`; `Output` goes to `sink`. A failed
    /// result is its error; a helper that died is a crash or a timeout, named with `what`.
    fn exchange(
        &self,
        connection: &Connection,
        kind: FrameKind,
        payload: &[u8],
        what: std::fmt::Arguments<'_>,
        sink: Option<&aisopod_sink>,
    ) -> Result<Vec<u8>> {
        let timeout = self.timeout();
        let mut refused = false;
        let mut on_output = |bytes: &[u8]| {
            if refused {
                return;
            }
            if let Some(write) = sink.and_then(|sink| sink.write.map(|write| (sink, write))) {
                // SAFETY: the caller's sink, valid for the call; the bytes are readable for the call.
                let code = unsafe { (write.1)(write.0.context, bytes.as_ptr(), bytes.len()) };
                refused = code != 0;
            }
        };
        // Handler calls go on lanes, each served by a helper thread of its own; lifecycle calls on the channel.
        let called = if kind == FrameKind::INVOKE || kind == FrameKind::EMIT {
            connection.call_on_lane(kind, payload, timeout, &mut on_output)
        } else {
            connection.call(kind, payload, timeout, &mut on_output)
        };
        // `what` is only formatted on a failure: a successful call allocates no message.
        let frame = called.map_err(|died| self.death(&what.to_string(), &died))?;
        let result = CallResult::decode(&frame.payload).map_err(|e| {
            Error::new(Status::HelperFailed, format!("plugin '{}': its helper answered {what} with {e}", self.id()))
        })?;
        if result.status != Status::Ok {
            return Err(Error::new(result.status, result.message));
        }
        if refused {
            return Err(Error::new(
                Status::PluginError,
                format!(
                    "plugin '{}' {what}: the host's sink refused the output, and the rest of it was dropped (an \
                     isolated plugin cannot see a refusal while it runs)",
                    self.id()
                ),
            ));
        }
        Ok(result.body)
    }

    /// The error for a call during which the helper died, after marking the plugin crashed.
    fn death(&self, what: &str, died: &Died) -> Error {
        let id = self.id();
        let ending = died.outcome.ending;
        let tail = &died.outcome.stderr_tail;
        let (status, message) = match (died.timed_out, &died.protocol) {
            (None, _) if died.killed_for_another => {
                let mut message = format!(
                    "plugin '{id}' was stopped during {what}: another call missed its deadline, so its helper process \
                     was killed"
                );
                append_stderr_line(&mut message, tail);
                (Status::PluginCrashed, message)
            }
            (None, Some(why)) => {
                let mut message = format!("plugin '{id}' failed during {what}: {why}; {}", helper_clause(ending));
                append_stderr_line(&mut message, tail);
                (Status::HelperFailed, message)
            }
            (timed_out, _) => plugin_ended(id, what, ending, timed_out, tail),
        };
        let error = Error::new(status, message);
        let mut session = write(&self.session);
        if let Some(connection) = session.connection.take() {
            self.retire(&connection);
        }
        session.crash = Some((error.clone(), Instant::now()));
        error
    }

    /// Ends `connection`'s helper if it still runs, and adds what it used to the past usage.
    fn retire(&self, connection: &Connection) {
        if !connection.has_ended() {
            connection.shutdown(EXIT_GRACE);
        }
        if let Some(usage) = connection.usage() {
            let mut past = lock(&self.past);
            past.user_micros += usage.user_micros;
            past.system_micros += usage.system_micros;
            past.peak_rss_bytes = past.peak_rss_bytes.max(usage.peak_rss_bytes);
        }
    }

    /// The helper to call, starting the plugin again first when it crashed and its restart policy allows;
    /// otherwise the crash's error.
    fn connection(&self) -> Result<Arc<Connection>> {
        {
            let session = read(&self.session);
            if let Some(connection) = &session.connection {
                return Ok(connection.clone());
            }
            if session.crash.is_none() {
                return Err(Error::new(Status::NotLoaded, format!("plugin '{}' is not loaded", self.id())));
            }
        }
        let mut session = write(&self.session);
        if let Some(connection) = &session.connection {
            return Ok(connection.clone());
        }
        let Some((error, at)) = session.crash.clone() else {
            return Err(Error::new(Status::NotLoaded, format!("plugin '{}' is not loaded", self.id())));
        };
        let policy = read(&self.settings).restart_policy_of(self.id());
        if session.restarts >= policy.max_restarts {
            return Err(error);
        }
        let wait = policy.backoff.saturating_mul(1u32 << session.restarts.min(16));
        if at.elapsed() < wait {
            let left = wait - at.elapsed();
            return Err(Error::new(
                error.status(),
                format!("{} (it starts again in {} ms)", error.message(), left.as_millis()),
            ));
        }
        session.restarts += 1;
        let init = session.init.clone();
        drop(session);
        let started = self.start().and_then(|(connection, capabilities)| {
            if let Some((config, data_dir)) = &init {
                let payload = InitRequest { config: config.clone(), data_dir: data_dir.clone() }
                    .encode()
                    .map_err(|e| Error::new(Status::InvalidArgument, e.to_string()))?;
                if let Err(error) = self.exchange(&connection, FrameKind::INIT, &payload, format_args!("init"), None) {
                    self.retire(&connection);
                    return Err(error);
                }
            }
            Ok((connection, capabilities))
        });
        let mut session = write(&self.session);
        match started {
            Ok((connection, capabilities)) => {
                self.shared.logger.log(
                    crate::log::LogLevel::Warn,
                    &format!("plugin '{}' was started again after: {}", self.id(), error.message()),
                );
                session.connection = Some(connection.clone());
                session.capabilities = capabilities;
                session.crash = None;
                Ok(connection)
            }
            Err(error) => {
                session.crash = Some((error.clone(), Instant::now()));
                Err(error)
            }
        }
    }

    /// Calls `init` in the helper.
    pub(crate) fn init(&self, config: &str, data_dir: &Path) -> Result<()> {
        {
            let session = read(&self.session);
            if session.init.is_some() {
                return Err(Error::new(
                    Status::AlreadyInitialized,
                    format!("plugin '{}' is already initialized", self.id()),
                ));
            }
            if session.init_failed {
                return Err(Error::new(
                    Status::InitFailed,
                    format!("plugin '{}': init already failed for this load; unload it and load it again", self.id()),
                ));
            }
        }
        let connection = self.connection()?;
        let payload = InitRequest { config: config.to_owned(), data_dir: data_dir.to_path_buf() }
            .encode()
            .map_err(|e| Error::new(Status::InvalidArgument, e.to_string()))?;
        self.calls.fetch_add(1, Ordering::Relaxed);
        let result = self.exchange(&connection, FrameKind::INIT, &payload, format_args!("init"), None);
        let mut session = write(&self.session);
        match result {
            Ok(_) => {
                session.init = Some((config.to_owned(), data_dir.to_path_buf()));
                Ok(())
            }
            Err(error) => {
                if error.status() == Status::InitFailed {
                    session.init_failed = true;
                }
                Err(error)
            }
        }
    }

    /// Whether `init` has succeeded for this load.
    pub(crate) fn is_initialized(&self) -> bool {
        read(&self.session).init.is_some()
    }

    /// Why the plugin is down, if it crashed and has not been started again.
    pub(crate) fn crash(&self) -> Option<Error> {
        read(&self.session).crash.as_ref().map(|(error, _)| error.clone())
    }

    /// Checks that handler `name` of `kind` exists and that the plugin is initialized, without a round trip.
    pub(crate) fn check_handler(&self, kind: CapabilityKind, name: &str) -> Result<()> {
        if self.generation.is_stale() {
            return Err(self.generation.stale(self.id(), kind, name));
        }
        let session = read(&self.session);
        if session.init.is_none() {
            return Err(Error::new(Status::NotInitialized, format!("plugin '{}' is not initialized", self.id())));
        }
        if !session.capabilities[kind].iter().any(|registered| registered == name) {
            return Err(Error::new(
                Status::CapabilityNotFound,
                format!("plugin '{}' has no {kind} '{name}'", self.id()),
            ));
        }
        Ok(())
    }

    /// Calls handler `name` of `kind` in the helper; its output reaches `sink` on this thread as it comes.
    pub(crate) fn call(
        &self,
        kind: CapabilityKind,
        name: &str,
        input: &[u8],
        sink: Option<&aisopod_sink>,
    ) -> Result<()> {
        self.check_handler(kind, name)?;
        let connection = self.connection()?;
        let mut payload = Vec::new();
        InvokeRequest { kind, name, input }
            .encode_into(&mut payload)
            .map_err(|e| Error::new(Status::InvalidArgument, format!("plugin '{}': {e}", self.id())))?;
        self.calls.fetch_add(1, Ordering::Relaxed);
        let exchange =
            || self.exchange(&connection, FrameKind::INVOKE, &payload, format_args!("{kind} '{name}'"), sink).map(drop);
        match self.measured(kind, name) {
            Some(stats) => stats.measure_remote(exchange),
            None => exchange(),
        }
    }

    /// Runs the plugin's hook for `event`, if it has one and is initialized. Returns whether it ran.
    pub(crate) fn call_hook(&self, event: &str, input: &[u8], sink: Option<&aisopod_sink>) -> Result<bool> {
        if self.check_handler(CapabilityKind::Hook, event).is_err() {
            return Ok(false);
        }
        let connection = self.connection()?;
        let mut payload = Vec::new();
        EmitRequest { event, input }
            .encode_into(&mut payload)
            .map_err(|e| Error::new(Status::InvalidArgument, format!("plugin '{}': {e}", self.id())))?;
        self.calls.fetch_add(1, Ordering::Relaxed);
        let exchange = || self.exchange(&connection, FrameKind::EMIT, &payload, format_args!("hook '{event}'"), sink);
        let body = match self.measured(CapabilityKind::Hook, event) {
            Some(stats) => stats.measure_remote(exchange),
            None => exchange(),
        }?;
        Ok(body.first() == Some(&1))
    }

    /// The counters of capability `name` of `kind`, while metrics are on.
    fn measured(&self, kind: CapabilityKind, name: &str) -> Option<&CapabilityStats> {
        self.metrics.is_enabled().then(|| self.metrics.capability(kind, name)).flatten()
    }

    /// The names of the capabilities it registered, by kind.
    pub(crate) fn capability_names(&self) -> PerKind<Vec<String>> {
        read(&self.session).capabilities.clone()
    }

    /// Unloads the plugin in its helper and ends the helper. Refuses while resolved handles exist.
    pub(crate) fn teardown(&self) -> Result<()> {
        let pins = self.pins.load(Ordering::Relaxed);
        if pins > 0 {
            return Err(Error::new(
                Status::Busy,
                format!("plugin '{}' has {pins} resolved capability handle(s); free them before unloading", self.id()),
            ));
        }
        let connection = write(&self.session).connection.take();
        if let Some(connection) = connection {
            let result = self.exchange(&connection, FrameKind::UNLOAD, &[], format_args!("unload"), None);
            self.retire(&connection);
            if let Err(error) = result {
                if error.status() != Status::PluginCrashed && error.status() != Status::Timeout {
                    return Err(error);
                }
            }
        }
        let mut session = write(&self.session);
        session.crash = None;
        session.init = None;
        Ok(())
    }

    /// What its processes used so far.
    pub(crate) fn usage(&self) -> PluginUsage {
        let past = *lock(&self.past);
        let session = read(&self.session);
        let now = session.connection.as_ref().and_then(|connection| connection.usage()).unwrap_or_default();
        PluginUsage {
            user_micros: past.user_micros + now.user_micros,
            system_micros: past.system_micros + now.system_micros,
            peak_rss_bytes: past.peak_rss_bytes.max(now.peak_rss_bytes),
            calls: self.calls.load(Ordering::Relaxed),
            restarts: session.restarts,
        }
    }

    /// The helper's process id, while it runs.
    pub(crate) fn pid(&self) -> Option<libc::pid_t> {
        read(&self.session).connection.as_ref().map(|connection| connection.pid())
    }
}

impl Drop for IsolatedPlugin {
    fn drop(&mut self) {
        let _ = self.teardown();
    }
}
