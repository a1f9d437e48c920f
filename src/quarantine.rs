//! The quarantine: what probing found about each library, kept by the library's identity so that it expires
//! by itself when the library changes.
//!
//! A probe that crashed, hung, exited or failed the ABI gate puts its library in quarantine: discovery then
//! sets the plugin aside with an `AISOPOD_STATUS_QUARANTINED` diagnostic, and loading it is refused. A probe
//! that passed is remembered too, so that discovery's automatic probing skips the library until it changes.
//! A record holds for one library path and one identity (device, inode, size, modification time); the
//! registry cache, where records are kept between processes, is itself dropped when the loader or ABI version
//! changes, and so are they.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, Status};
use crate::file_stamp::FileStamp;

/// What a probe found about one library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The plugin's library, as discovery found it.
    pub library: PathBuf,
    pub(crate) stamp: FileStamp,
    /// The plugin id its manifest gave when it was probed.
    pub plugin_id: String,
    /// When it was probed, in seconds since the Unix epoch.
    pub since: u64,
    /// Why it is quarantined, or `None` when its probe passed.
    pub verdict: Option<Verdict>,
}

/// Why a library is quarantined: the probe's failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub status: Status,
    pub reason: String,
}

/// Whether a probe's failure puts the library in quarantine: a crash, an exit, a hang, or the ABI gate. A
/// plugin that fails in an orderly way (a bad manifest, an `init` that returns an error) is reported, and the
/// in-process loader would refuse it just as well.
pub fn quarantines(status: Status) -> bool {
    matches!(status, Status::PluginCrashed | Status::Timeout | Status::AbiMismatch | Status::MissingSymbol)
}

impl Record {
    /// A record for `library` as it is now on disk; `None` when it cannot be stat'ed.
    pub(crate) fn new(library: &Path, plugin_id: &str, verdict: Option<Verdict>) -> Option<Record> {
        Some(Record {
            library: library.to_path_buf(),
            stamp: stamp_of(library)?,
            plugin_id: plugin_id.to_owned(),
            since: SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
            verdict,
        })
    }

    /// The error that refuses the plugin: its library, the date, and the reason.
    pub fn error(&self) -> Error {
        let (status, reason) = match &self.verdict {
            Some(verdict) => (verdict.status, verdict.reason.as_str()),
            None => (Status::Ok, "its probe passed"),
        };
        Error::new(
            Status::Quarantined,
            format!(
                "{}: plugin '{}' is quarantined since {} ({}): {reason}",
                self.library.display(),
                self.plugin_id,
                utc_date(self.since),
                status.description().to_str().unwrap_or_default(),
            ),
        )
    }
}

/// The identity of the file at `path` (following symbolic links, as `dlopen` does).
pub(crate) fn stamp_of(path: &Path) -> Option<FileStamp> {
    std::fs::metadata(path).ok().map(|metadata| FileStamp::of(&metadata))
}

/// Every record, one per library path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Quarantine {
    records: Vec<Record>,
}

impl Quarantine {
    pub(crate) fn from_records(records: Vec<Record>) -> Quarantine {
        let mut quarantine = Quarantine::default();
        for record in records {
            quarantine.insert(record);
        }
        quarantine
    }

    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// The quarantined records, in the order they were made.
    pub fn quarantined(&self) -> impl Iterator<Item = &Record> {
        self.records.iter().filter(|record| record.verdict.is_some())
    }

    /// Adds `record`, replacing any record of the same library.
    pub(crate) fn insert(&mut self, record: Record) {
        self.records.retain(|old| old.library != record.library);
        self.records.push(record);
    }

    /// Adds the records of `other` for libraries this one has no record of.
    pub(crate) fn merge(&mut self, other: Quarantine) {
        for record in other.records {
            if !self.records.iter().any(|old| old.library == record.library) {
                self.records.push(record);
            }
        }
    }

    /// The record of `library` if it still holds: the library is there, with the identity recorded.
    /// `stamp` is the library's identity when the caller has it already.
    pub(crate) fn current(&self, library: &Path, stamp: Option<FileStamp>) -> Option<&Record> {
        let record = self.records.iter().find(|record| record.library == library)?;
        let stamp = stamp.or_else(|| stamp_of(library))?;
        (record.stamp == stamp).then_some(record)
    }

    /// Forgets what was found about `library`.
    pub(crate) fn clear_library(&mut self, library: &Path) {
        self.records.retain(|record| record.library != library);
    }

    /// Drops the records whose library is gone or changed.
    pub(crate) fn expire(&mut self) {
        self.records.retain(|record| stamp_of(&record.library) == Some(record.stamp));
    }

    /// Lifts the quarantine of plugin `plugin_id`, or of every plugin when `None`; returns how many records
    /// were lifted. A lifted library is probed again by discovery's automatic probing.
    pub(crate) fn clear(&mut self, plugin_id: Option<&str>) -> usize {
        let before = self.records.len();
        self.records.retain(|record| record.verdict.is_none() || plugin_id.is_some_and(|id| record.plugin_id != id));
        before - self.records.len()
    }
}

/// `2026-11-27 03:40:12 UTC` for `seconds` since the Unix epoch.
pub fn utc_date(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64;
    let time = seconds % 86_400;
    // Days to a civil date in the proleptic Gregorian calendar (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC", time / 3600, time % 3600 / 60, time % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_civil_utc() {
        assert_eq!(utc_date(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc_date(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc_date(1_795_750_812), "2026-11-27 03:40:12 UTC");
        assert_eq!(utc_date(4_107_542_399), "2100-02-28 23:59:59 UTC");
    }

    #[test]
    fn a_record_holds_until_its_library_changes_and_clearing_lifts_only_quarantines() {
        let dir = std::env::temp_dir().join(format!("aisopod-quarantine-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (bad, good) = (dir.join("libbad.so"), dir.join("libgood.so"));
        std::fs::write(&bad, b"one").unwrap();
        std::fs::write(&good, b"two").unwrap();
        let verdict = Verdict { status: Status::PluginCrashed, reason: "it crashed".to_owned() };
        let mut quarantine = Quarantine::default();
        quarantine.insert(Record::new(&bad, "bad", Some(verdict.clone())).unwrap());
        quarantine.insert(Record::new(&good, "good", None).unwrap());
        assert!(quarantine.current(&bad, None).is_some());
        assert_eq!(quarantine.quarantined().count(), 1);
        let message = quarantine.current(&bad, None).unwrap().error().message().to_owned();
        assert!(message.starts_with(&format!("{}: plugin 'bad' is quarantined since ", bad.display())), "{message}");
        assert!(message.ends_with(" UTC (the plugin crashed or exited its process): it crashed"), "{message}");

        std::fs::write(&bad, b"changed").unwrap();
        assert!(quarantine.current(&bad, None).is_none(), "a changed library is out of quarantine");
        quarantine.expire();
        assert_eq!(quarantine.records().len(), 1);

        quarantine.insert(Record::new(&bad, "bad", Some(verdict)).unwrap());
        assert_eq!(quarantine.clear(Some("other")), 0);
        assert_eq!(quarantine.clear(Some("bad")), 1);
        assert_eq!(quarantine.clear(None), 0, "a passed probe is not a quarantine");
        assert_eq!(quarantine.records().len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
