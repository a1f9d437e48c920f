//! A Rust plugin whose tool "boom" panics and whose tool "echo" works: the SDK must turn the panic into an
//! error code and keep the plugin usable.

use aisopod_loader::sdk::{HandlerResult, Host, Output, Plugin, Registrar};

struct Panicky;

impl Plugin for Panicky {
    const ID: &'static str = "rust_panic";

    fn create(_host: &Host) -> Option<Self> {
        Some(Panicky)
    }

    fn register(registrar: &mut Registrar<Self>) {
        registrar.tool("boom", boom).tool("echo", echo);
    }
}

fn boom(_: &Panicky, input: &[u8], _out: &mut Output<'_>) -> HandlerResult {
    panic!("boom with {} input bytes", input.len());
}

fn echo(_: &Panicky, input: &[u8], out: &mut Output<'_>) -> HandlerResult {
    out.write(input)
}

aisopod_loader::export_plugin!(Panicky);
