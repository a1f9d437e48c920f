//! zig_hello: the hello plugin written in Zig. It registers one tool, "greet",
//! which writes "Hello from Zig, <input>!", and one hook, "on_start", which
//! counts the events it sees. Every ABI type comes from bindings that build.sh
//! translates from include/aisopod_loader.h, so a change to the header shows up
//! here as a compile error rather than as a silent layout mismatch. It does not
//! link the loader.
//!
//! No exported or callback function returns an error union: errors are turned
//! into the ABI's integer codes (or NULL) before they reach the caller.

const std = @import("std");
const c = @import("aisopod");

const plugin_id = "zig_hello";

/// A failed safety check (ReleaseSafe keeps them) ends the process, as a failed
/// assert() would in C: Zig never unwinds, so nothing escapes into the loader. The
/// default handler would also link Zig's stack-trace printer and its whole I/O
/// runtime into the plugin; writing the message with libc keeps the library small.
pub const panic = std.debug.FullPanic(abortWithMessage);

fn abortWithMessage(message: []const u8, return_address: ?usize) noreturn {
    _ = return_address;
    const prefix = plugin_id ++ ": panic: ";
    _ = std.c.write(2, prefix, prefix.len);
    _ = std.c.write(2, message.ptr, message.len);
    _ = std.c.write(2, "\n", 1);
    std.c.abort();
}

const State = extern struct {
    // First, so that the plugin pointer the loader hands back is the state pointer.
    plugin: c.aisopod_plugin,
    // May be NULL if a host calls create without one; every use checks.
    host: ?*const c.aisopod_host,
    // Handlers may run on several threads at once; only touched through @atomicRmw.
    starts: u32,
};

comptime {
    // The loader reads struct_size before anything else and refuses a struct smaller than v1's.
    std.debug.assert(@offsetOf(State, "plugin") == 0);
    std.debug.assert(@offsetOf(c.aisopod_plugin, "struct_size") == 0);
}

// Coercing to the header's function-pointer typedefs makes the compiler check that the
// exported signatures are exactly the ones the loader looks up.
comptime {
    const abi_fn: c.aisopod_plugin_abi_version_fn = &aisopod_plugin_abi_version;
    const create_fn: c.aisopod_plugin_create_fn = &aisopod_plugin_create;
    const handler: c.aisopod_handler = &greet;
    const hook: c.aisopod_handler = &onStart;
    _ = .{ abi_fn, create_fn, handler, hook };
}

fn stateOf(plugin: [*c]const c.aisopod_plugin) ?*State {
    if (plugin == null) return null;
    return @ptrCast(@alignCast(@constCast(plugin)));
}

fn log(state: *const State, level: c.aisopod_log_level, message: [*:0]const u8) void {
    const host = state.host orelse return;
    const log_fn = host.log orelse return;
    log_fn(host, level, message);
}

fn writeAll(sink: [*c]const c.aisopod_sink, bytes: []const u8) i32 {
    if (bytes.len == 0) return 0;
    const write = sink.*.write orelse return 1;
    return write(sink.*.context, bytes.ptr, bytes.len);
}

/// Tool "greet": the input bytes are a name; the output is a greeting.
fn greet(userdata: ?*anyopaque, input: [*c]const u8, input_len: usize, sink: [*c]const c.aisopod_sink) callconv(.c) i32 {
    _ = userdata;
    if (sink == null) return 1;
    if (writeAll(sink, "Hello from Zig, ") != 0) return 1;
    if (input_len > 0) {
        if (input == null) return 1;
        if (writeAll(sink, input[0..input_len]) != 0) return 1;
    }
    return writeAll(sink, "!");
}

/// Hook "on_start": counts the events and reports the count.
fn onStart(userdata: ?*anyopaque, input: [*c]const u8, input_len: usize, sink: [*c]const c.aisopod_sink) callconv(.c) i32 {
    _ = input;
    _ = input_len;
    const state: *State = @ptrCast(@alignCast(userdata orelse return 1));
    if (sink == null) return 1;
    // Wrapping add: a counter that wraps after 2^32 events must not trip a safety check.
    const seen = @atomicRmw(u32, &state.starts, .Add, 1, .seq_cst) +% 1;
    var line: [64]u8 = undefined;
    const text = std.fmt.bufPrint(&line, plugin_id ++ " saw on_start #{d}", .{seen}) catch return 1;
    return writeAll(sink, text);
}

fn register(plugin: [*c]const c.aisopod_plugin, registrar: [*c]const c.aisopod_registrar) callconv(.c) i32 {
    const state = stateOf(plugin) orelse return 1;
    if (registrar == null) return 1;
    const register_capability = registrar.*.register_capability orelse return 1;
    if (register_capability(registrar, c.AISOPOD_CAPABILITY_TOOL, "greet", &greet, state) != 0) return 1;
    return register_capability(registrar, c.AISOPOD_CAPABILITY_HOOK, "on_start", &onStart, state);
}

/// Longest prefix of `text` no longer than `max` that does not split a UTF-8 sequence,
/// so that a truncated config still reaches the host as valid UTF-8.
fn utf8Prefix(text: []const u8, max: usize) []const u8 {
    if (text.len <= max) return text;
    var end = max;
    while (end > 0 and (text[end] & 0xC0) == 0x80) end -= 1;
    return text[0..end];
}

fn init(plugin: [*c]const c.aisopod_plugin, context: [*c]const c.aisopod_init_context) callconv(.c) i32 {
    const state = stateOf(plugin) orelse return 1;
    if (context == null) return 1;
    const config: []const u8 = if (context.*.config == null) "" else context.*.config[0..context.*.config_len];
    var line: [256]u8 = undefined;
    const message = std.fmt.bufPrint(&line, plugin_id ++ ": init with config {s}\x00", .{utf8Prefix(config, 200)}) catch return 1;
    log(state, c.AISOPOD_LOG_INFO, @ptrCast(message.ptr));
    return 0;
}

fn shutdown(plugin: [*c]const c.aisopod_plugin) callconv(.c) void {
    const state = stateOf(plugin) orelse return;
    log(state, c.AISOPOD_LOG_INFO, plugin_id ++ ": shutdown");
}

fn destroy(plugin: [*c]const c.aisopod_plugin) callconv(.c) void {
    const state = stateOf(plugin) orelse return;
    std.heap.c_allocator.destroy(state);
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
    const state = std.heap.c_allocator.create(State) catch return null;
    state.* = .{
        .plugin = .{
            .struct_size = @sizeOf(c.aisopod_plugin),
            .plugin_data = state,
            .id = plugin_id,
            .register_capabilities = &register,
            .init = &init,
            .shutdown = &shutdown,
            .destroy = &destroy,
            .get_extension = &getExtension,
        },
        .host = host,
        .starts = 0,
    };
    return &state.plugin;
}
