//! {{name}}: an aisopod plugin with one tool, "echo", which writes its input back.

use std::path::Path;

use aisopod_loader::sdk::{HandlerResult, Host, Output, Plugin, Registrar};

struct Echo;

impl Plugin for Echo {
    const ID: &'static str = "{{name}}";

    fn create(_host: &Host) -> Option<Self> {
        Some(Echo)
    }

    fn register(registrar: &mut Registrar<Self>) {
        registrar.tool("echo", echo);
    }

    fn init(&self, _host: &Host, _config: &str, _data_dir: &Path) -> HandlerResult {
        Ok(())
    }
}

/// Tool "echo": may run on several threads at once; it keeps no state.
fn echo(_: &Echo, input: &[u8], out: &mut Output<'_>) -> HandlerResult {
    out.write(input)
}

aisopod_loader::export_plugin!(Echo);
