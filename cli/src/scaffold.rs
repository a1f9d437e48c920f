//! `aisopod new`: writes a plugin directory.

use std::path::Path;

use crate::Lang;

pub fn run(_lang: Lang, _name: &str, _dir: &Path) -> Result<u8, String> {
    Err("not yet".to_owned())
}
