//! The hello plugin in Rust: a tool "greet" and a hook "on_start", through the plugin SDK.

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

use aisopod_loader::abi::AISOPOD_LOG_INFO;
use aisopod_loader::sdk::{HandlerResult, Host, Output, Plugin, Registrar};

struct RustHello {
    starts: AtomicU32,
}

impl Plugin for RustHello {
    const ID: &'static str = "rust_hello";

    fn create(_host: &Host) -> Option<Self> {
        Some(RustHello { starts: AtomicU32::new(0) })
    }

    fn register(registrar: &mut Registrar<Self>) {
        registrar.tool("greet", greet).hook("on_start", on_start);
    }

    fn init(&self, host: &Host, config: &str, _data_dir: &Path) -> HandlerResult {
        host.log(AISOPOD_LOG_INFO, &format!("rust_hello: init with config {config}"));
        Ok(())
    }
}

fn greet(_: &RustHello, input: &[u8], out: &mut Output<'_>) -> HandlerResult {
    out.write(b"Hello from Rust, ")?;
    out.write(input)?;
    out.write(b"!")
}

fn on_start(plugin: &RustHello, _input: &[u8], out: &mut Output<'_>) -> HandlerResult {
    let seen = plugin.starts.fetch_add(1, Ordering::Relaxed) + 1;
    out.write(format!("rust_hello saw on_start #{seen}").as_bytes())
}

aisopod_loader::export_plugin!(RustHello);
