//! A reload's part in one loaded plugin: closing the replaced version to calls by name, and the optional
//! `aisopod.state/1` extension, through which the old version saves its state and the new one restores it.

use super::guard::in_plugin;
use super::LoadedPlugin;
use crate::abi::{aisopod_state_v1, AISOPOD_STATE_EXTENSION};
use crate::error::{Error, Result, Status};
use crate::sync::{read, write};

impl LoadedPlugin {
    /// Marks this version replaced by generation `successor`, which closes it to calls by name and makes its
    /// resolved handles stale, then waits for the calls by name that are running. The caller holds the
    /// loader's lifecycle lock.
    pub(crate) fn supersede(&self, successor: u64) {
        {
            // Under the state lock, which every call by name holds while it counts itself in flight.
            let _live = write(&self.live);
            self.generation.supersede(successor);
        }
        self.in_flight.drain();
    }

    /// The plugin's `aisopod.state/1` extension, when it is initialized and exports a usable one.
    fn state_extension(&self) -> Result<Option<&aisopod_state_v1>> {
        if !read(&self.live).initialized {
            return Ok(None);
        }
        let extension = self.extension(AISOPOD_STATE_EXTENSION)?.cast::<aisopod_state_v1>();
        if extension.is_null() {
            return Ok(None);
        }
        // SAFETY: the plugin returned it for this id, so it points to an `aisopod_state_v1`, valid until its
        // `destroy`, which cannot run while the caller holds the lifecycle lock. Its size is read first.
        let extension = unsafe { &*extension };
        if (extension.struct_size as usize) < std::mem::size_of::<aisopod_state_v1>() {
            return Err(Error::new(
                Status::InvalidPluginStruct,
                format!(
                    "plugin '{}': its {AISOPOD_STATE_EXTENSION} struct is {} bytes, smaller than the {} of v1",
                    self.id(),
                    extension.struct_size,
                    std::mem::size_of::<aisopod_state_v1>()
                ),
            ));
        }
        Ok(Some(extension))
    }

    /// Calls `save` of the plugin's `aisopod.state/1` extension: the saved bytes, or `None` when the plugin is
    /// not initialized or saves nothing. The caller holds the lifecycle lock and has superseded this version.
    pub(crate) fn save_state(&self) -> Result<Option<Vec<u8>>> {
        let Some(save) = self.state_extension()?.and_then(|extension| extension.save) else { return Ok(None) };
        let vtable = read(&self.live).open_vtable()?;
        let mut saved = Vec::new();
        let code = {
            let sink = crate::VecSink::new(&mut saved);
            let _serial = self.serial.as_ref().map(|s| s.enter(self.id())).transpose()?;
            // SAFETY: the vtable and the extension stay valid until `destroy`, which needs the lifecycle lock the
            // caller holds; the sink outlives the call.
            in_plugin(|| unsafe { save(vtable, sink.sink()) })
        };
        if code != 0 {
            return Err(Error::new(
                Status::PluginError,
                format!(
                    "plugin '{}': {AISOPOD_STATE_EXTENSION} save returned {}",
                    self.id(),
                    super::describe_code(code)
                ),
            ));
        }
        Ok(Some(saved))
    }

    /// Calls `restore` of the plugin's `aisopod.state/1` extension with `data`. Returns whether it did: false
    /// when the plugin has no `restore`. The caller holds the lifecycle lock.
    pub(crate) fn restore_state(&self, data: &[u8]) -> Result<bool> {
        let Some(restore) = self.state_extension()?.and_then(|extension| extension.restore) else {
            return Ok(false);
        };
        let vtable = read(&self.live).open_vtable()?;
        let _serial = self.serial.as_ref().map(|s| s.enter(self.id())).transpose()?;
        // SAFETY: as in `save_state`; a slice's pointer is never NULL, even when it is empty.
        let code = in_plugin(|| unsafe { restore(vtable, data.as_ptr(), data.len()) });
        if code != 0 {
            return Err(Error::new(
                Status::PluginError,
                format!(
                    "plugin '{}': {AISOPOD_STATE_EXTENSION} restore returned {}",
                    self.id(),
                    super::describe_code(code)
                ),
            ));
        }
        Ok(true)
    }
}
