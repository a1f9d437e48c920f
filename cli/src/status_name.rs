//! The stable C name of a status, `AISOPOD_STATUS_...`, as the header spells it.

use aisopod_loader::Status;

/// `Status::AbiMismatch` -> `AISOPOD_STATUS_ABI_MISMATCH`: cbindgen's ScreamingSnakeCase of the variant.
pub fn of(status: Status) -> String {
    let variant = format!("{status:?}");
    let mut name = String::from("AISOPOD_STATUS_");
    for (i, c) in variant.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            name.push('_');
        }
        name.push(c.to_ascii_uppercase());
    }
    name
}
