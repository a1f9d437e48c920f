//! {{name}}: an aisopod plugin with one tool, "echo", which writes its input back. The ABI types come from
//! bindings the Makefile translates from aisopod_loader.h.

const std = @import("std");
const c = @import("aisopod");

const plugin_id = "{{name}}";

// Coercing to the header's function-pointer typedefs checks the exported signatures.
comptime {
    const abi_fn: c.aisopod_plugin_abi_version_fn = &aisopod_plugin_abi_version;
    const create_fn: c.aisopod_plugin_create_fn = &aisopod_plugin_create;
    const handler: c.aisopod_handler = &echo;
    _ = .{ abi_fn, create_fn, handler };
}

/// Tool "echo": may run on several threads at once; it keeps no state.
fn echo(userdata: ?*anyopaque, input: [*c]const u8, input_len: usize, sink: [*c]const c.aisopod_sink) callconv(.c) i32 {
    _ = userdata;
    if (input_len == 0) return 0;
    if (sink == null or input == null) return 1;
    const write = sink.*.write orelse return 1;
    return if (write(sink.*.context, input, input_len) == 0) 0 else 1;
}

fn register(plugin: [*c]const c.aisopod_plugin, registrar: [*c]const c.aisopod_registrar) callconv(.c) i32 {
    _ = plugin;
    if (registrar == null) return 1;
    const register_capability = registrar.*.register_capability orelse return 1;
    return register_capability(registrar, c.AISOPOD_CAPABILITY_TOOL, "echo", &echo, null);
}

fn init(plugin: [*c]const c.aisopod_plugin, context: [*c]const c.aisopod_init_context) callconv(.c) i32 {
    _ = plugin;
    _ = context; // context.*.config: the host's configuration, JSON by convention; copy what you keep.
    return 0;
}

fn shutdown(plugin: [*c]const c.aisopod_plugin) callconv(.c) void {
    _ = plugin;
}

fn destroy(plugin: [*c]const c.aisopod_plugin) callconv(.c) void {
    if (plugin == null) return;
    const owned: *c.aisopod_plugin = @constCast(plugin);
    std.heap.c_allocator.destroy(owned);
}

fn getExtension(plugin: [*c]const c.aisopod_plugin, id: [*c]const u8) callconv(.c) ?*const anyopaque {
    _ = plugin;
    _ = id;
    return null;
}

export fn aisopod_plugin_abi_version() u32 {
    return c.AISOPOD_ABI_VERSION;
}

export fn aisopod_plugin_create(host: [*c]const c.aisopod_host) [*c]const c.aisopod_plugin {
    _ = host; // Valid until destroy returns: keep it to log through host.*.log.
    const plugin = std.heap.c_allocator.create(c.aisopod_plugin) catch return null;
    plugin.* = std.mem.zeroes(c.aisopod_plugin);
    plugin.struct_size = @sizeOf(c.aisopod_plugin);
    plugin.id = plugin_id;
    plugin.register_capabilities = &register;
    plugin.init = &init;
    plugin.shutdown = &shutdown;
    plugin.destroy = &destroy;
    plugin.get_extension = &getExtension;
    return plugin;
}
