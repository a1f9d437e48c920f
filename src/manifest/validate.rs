//! Validation: every field of a raw manifest checked against its rule, with errors that name the file, the
//! line, the field and its value.

use std::fmt;
use std::path::Path;

use semver::{Version, VersionReq};
use toml::Spanned;

use super::growth::newer_version_note;
use super::schema::RawDependencies;
use super::schema::RawManifest;
use super::{line_of, spdx, Dependency, Isolation, Manifest, CAPABILITY_NAME_MAX_LEN, ID_MAX_LEN, MANIFEST_VERSION};
use crate::capability_kind::{CapabilityKind, PerKind};
use crate::error::{Error, Result, Status};
use crate::integrity::Sha256Digest;

/// Checks raw values against the field rules; `text` and `path` are only used in messages.
pub(super) struct Validator<'a> {
    pub(super) text: &'a str,
    pub(super) path: &'a Path,
}

impl Validator<'_> {
    /// The 1-based line of byte `offset` of the text.
    pub(super) fn line(&self, offset: usize) -> usize {
        line_of(self.text.as_bytes(), offset)
    }

    /// A ManifestInvalid error: "<path>:<line>: <field> = <value>: <why>".
    pub(super) fn invalid<T, V: fmt::Debug>(
        &self,
        field: &str,
        value: &Spanned<V>,
        why: impl fmt::Display,
    ) -> Result<T> {
        let line = self.line(value.span().start);
        let message = format!("{}:{line}: {field} = {:?}: {why}", self.path.display(), value.get_ref());
        Err(Error::new(Status::ManifestInvalid, message))
    }

    /// Checks every field. A manifest newer than this loader reads has every error end with a note naming
    /// both versions.
    pub(super) fn validate(&self, raw: RawManifest) -> Result<Manifest> {
        let declared = self.manifest_version(&raw.manifest_version)?;
        self.fields(raw, declared).map_err(|e| match declared > i64::from(MANIFEST_VERSION) {
            true => Error::new(e.status(), format!("{}{}", e.message(), newer_version_note(declared))),
            false => e,
        })
    }

    fn fields(&self, raw: RawManifest, declared: i64) -> Result<Manifest> {
        let warnings = self.unknown_keys(&raw.unknown, declared)?;
        let plugin = raw.plugin;
        self.check_id(&plugin.id)?;
        if plugin.name.get_ref().trim().is_empty() {
            return self.invalid("[plugin].name", &plugin.name, "must not be empty");
        }
        for (field, value) in [
            ("[plugin].name", &plugin.name),
            ("[plugin].description", &plugin.description),
            ("[plugin].author", &plugin.author),
        ] {
            if value.get_ref().contains('\0') {
                return self.invalid(field, value, "must not contain a NUL character");
            }
        }
        let version = self.semver("[plugin].version", &plugin.version)?;
        let isolation = match &plugin.isolation {
            None => None,
            Some(value) => Some(match value.get_ref().as_str() {
                "none" => Isolation::None,
                "process" => Isolation::Process,
                _ => return self.invalid("[plugin].isolation", value, "must be \"none\" or \"process\""),
            }),
        };
        self.check_entry_point(&plugin.entry_point)?;
        if let Some(license) = &plugin.license {
            if let Err(why) = spdx::check_expression(license.get_ref()) {
                return self.invalid("[plugin].license", license, format!("is not an SPDX license expression: {why}"));
            }
        }
        for (field, url) in [("[plugin].homepage", &plugin.homepage), ("[plugin].repository", &plugin.repository)] {
            if let Some(url) = url {
                if let Err(why) = check_url(url.get_ref()) {
                    return self.invalid(field, url, why);
                }
            }
        }

        let sha256 = match &plugin.sha256 {
            None => None,
            Some(value) => Some(Box::new(Sha256Digest::from_hex(value.get_ref()).or_else(|why| {
                self.invalid(
                    "[plugin].sha256",
                    value,
                    format!("{why}: it must be the library's SHA-256 digest, as sha256sum prints it"),
                )
            })?)),
        };

        let permissions = match &raw.permissions {
            None => None,
            Some(declared) => Some(Box::new(crate::permissions::Permissions {
                read: self.permission_paths("[permissions].read", &declared.read)?,
                write: self.permission_paths("[permissions].write", &declared.write)?,
                network: declared.network,
                subprocess: declared.subprocess,
            })),
        };
        let min_host_version =
            self.optional_semver("[compatibility].min_host_version", &raw.compatibility.min_host_version)?;
        let max_host_version =
            self.optional_semver("[compatibility].max_host_version", &raw.compatibility.max_host_version)?;
        if let (Some(min), Some(max), Some(max_raw)) =
            (&min_host_version, &max_host_version, &raw.compatibility.max_host_version)
        {
            if min > max {
                return self.invalid(
                    "[compatibility].max_host_version",
                    max_raw,
                    format!("is lower than min_host_version {min}"),
                );
            }
        }

        let mut capabilities: PerKind<Vec<String>> = PerKind::default();
        for (kind, list) in raw.capabilities.0 {
            capabilities[kind] = self.capability_names(kind, list)?;
        }
        let dependencies = self.dependencies(plugin.id.get_ref(), raw.dependencies)?;

        Ok(Manifest {
            id: plugin.id.into_inner(),
            name: plugin.name.into_inner(),
            version,
            description: plugin.description.into_inner(),
            author: plugin.author.into_inner(),
            entry_point: plugin.entry_point.into_inner(),
            thread_safe: plugin.thread_safe,
            unload: plugin.unload,
            isolation,
            permissions,
            capabilities,
            dependencies,
            min_host_version,
            max_host_version,
            license: plugin.license.map(Spanned::into_inner),
            homepage: plugin.homepage.map(Spanned::into_inner),
            repository: plugin.repository.map(Spanned::into_inner),
            sha256,
            warnings,
        })
    }

    /// The paths of a `[permissions]` list: not empty, no NUL, no `..` component.
    fn permission_paths(&self, field: &str, paths: &[Spanned<String>]) -> Result<Vec<std::path::PathBuf>> {
        paths
            .iter()
            .map(|path| {
                let value = path.get_ref();
                if value.is_empty() {
                    return self.invalid(field, path, "must not hold an empty path");
                }
                if value.contains('\0') {
                    return self.invalid(field, path, "must not contain a NUL character");
                }
                if Path::new(value).components().any(|c| c == std::path::Component::ParentDir) {
                    return self.invalid(field, path, "must not contain a `..` component");
                }
                Ok(std::path::PathBuf::from(value))
            })
            .collect()
    }

    fn check_id(&self, id: &Spanned<String>) -> Result<()> {
        check_id_syntax(id.get_ref()).or_else(|why| self.invalid("[plugin].id", id, why))
    }

    fn check_entry_point(&self, entry: &Spanned<String>) -> Result<()> {
        let value = entry.get_ref();
        let field = "[plugin].entry_point";
        if value.is_empty() {
            return self.invalid(field, entry, "must not be empty");
        }
        if value.trim().is_empty() {
            return self.invalid(field, entry, "must not be blank");
        }
        if value.trim() != value {
            return self.invalid(field, entry, "must not begin or end with whitespace");
        }
        if value.contains(['/', '\\']) || value.contains("..") || value.contains('\0') {
            return self.invalid(field, entry, "must be a library stem without path separators, '..' or NUL");
        }
        if let Some(stem) = library_stem(value) {
            return self.invalid(
                field,
                entry,
                format!("is a file name, but entry_point is the library stem: use {stem:?}"),
            );
        }
        Ok(())
    }

    fn semver(&self, field: &str, value: &Spanned<String>) -> Result<Version> {
        Version::parse(value.get_ref()).or_else(|e| self.invalid(field, value, format!("is not a semver version: {e}")))
    }

    fn optional_semver(&self, field: &str, value: &Option<Spanned<String>>) -> Result<Option<Version>> {
        value.as_ref().map(|v| self.semver(field, v)).transpose()
    }

    /// `[dependencies]`: each key a valid id other than the plugin's own, each requirement a semver requirement.
    fn dependencies(&self, own_id: &str, raw: RawDependencies) -> Result<Vec<Dependency>> {
        raw.0
            .into_iter()
            .map(|(id, dependency)| {
                let field = format!("[dependencies].{}", id.get_ref());
                check_id_syntax(id.get_ref()).or_else(|why| self.invalid("[dependencies] key", &id, why))?;
                if id.get_ref() == own_id {
                    return self.invalid(
                        "[dependencies] key",
                        &id,
                        "is the plugin's own id: a plugin cannot need itself",
                    );
                }
                let requirement = VersionReq::parse(dependency.version.get_ref()).or_else(|e| {
                    self.invalid(
                        &field,
                        &dependency.version,
                        format!("is not a semver requirement (such as \"^1.2\"): {e}"),
                    )
                })?;
                Ok(Dependency { id: id.into_inner(), requirement, optional: dependency.optional })
            })
            .collect()
    }

    fn capability_names(&self, kind: CapabilityKind, list: Vec<Spanned<String>>) -> Result<Vec<String>> {
        let field = format!("[capabilities].{}", kind.manifest_key());
        let mut names: Vec<String> = Vec::with_capacity(list.len());
        for name in list {
            if let Err(why) = check_capability_name(name.get_ref()) {
                return self.invalid(&field, &name, why);
            }
            if names.iter().any(|n| n == name.get_ref()) {
                return self.invalid(&field, &name, "is listed twice");
            }
            names.push(name.into_inner());
        }
        Ok(names)
    }
}

/// Checks a `homepage` or `repository` value: an absolute URL, `scheme://` and more, without whitespace.
fn check_url(value: &str) -> std::result::Result<(), &'static str> {
    let scheme_ok = |scheme: &str| {
        scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    };
    match value.split_once("://") {
        Some((scheme, rest)) if scheme_ok(scheme) && !rest.is_empty() => {}
        _ => return Err("must be an absolute URL, such as \"https://example.org/plugin\""),
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain whitespace or control characters");
    }
    Ok(())
}

/// The stem of a library file name (`libfoo.so`, `libfoo.so.1`, `foo.dylib`, `foo.dll` give `foo`; `.so` gives
/// ""); `None` for a value that does not end like a library file.
fn library_stem(value: &str) -> Option<&str> {
    // Most stems have no dot: one byte search, and nothing allocated, for the common case.
    if !value.contains('.') {
        return None;
    }
    // Suffixes match in any case.
    let bytes = value.as_bytes();
    let is_version = |v: &[u8]| !v.is_empty() && v.iter().all(|b| b.is_ascii_digit() || *b == b'.');
    let end = match bytes.windows(4).position(|w| w.eq_ignore_ascii_case(b".so.")) {
        Some(at) if is_version(&bytes[at + 4..]) => at + 3,
        _ => bytes.len(),
    };
    let (base, unix) = [(".so", true), (".dylib", true), (".dll", false)]
        .into_iter()
        .find(|(suffix, _)| {
            end >= suffix.len() && bytes[end - suffix.len()..end].eq_ignore_ascii_case(suffix.as_bytes())
        })
        .map(|(suffix, unix)| (&value[..end - suffix.len()], unix))?;
    let stem = match base.strip_prefix("lib") {
        Some(stem) if unix && !stem.is_empty() => stem,
        _ => base,
    };
    Some(stem)
}

/// Checks a plugin id: 1 to 64 bytes of `[a-z0-9._-]`, starting with a letter or digit. The error completes
/// "the id ...".
pub(crate) fn check_id_syntax(value: &str) -> std::result::Result<(), String> {
    if value.is_empty() {
        return Err("must not be empty".into());
    }
    if value.len() > ID_MAX_LEN {
        return Err(format!("is {} bytes, over the {ID_MAX_LEN}-byte limit", value.len()));
    }
    let first_ok = value.as_bytes()[0].is_ascii_lowercase() || value.as_bytes()[0].is_ascii_digit();
    let rest_ok = value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if !first_ok || !rest_ok {
        return Err("must match [a-z0-9][a-z0-9._-]*".into());
    }
    Ok(())
}

/// Checks a capability name: 1 to 128 bytes of `[A-Za-z0-9_.:/-]`, starting with a letter, digit or `_`.
pub fn check_capability_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() {
        return Err("a capability name must not be empty".into());
    }
    if name.len() > CAPABILITY_NAME_MAX_LEN {
        return Err(format!("a capability name is at most {CAPABILITY_NAME_MAX_LEN} bytes"));
    }
    let first = name.as_bytes()[0];
    let valid = (first.is_ascii_alphanumeric() || first == b'_')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.:/-".contains(&b));
    if !valid {
        return Err("a capability name must match [A-Za-z0-9_][A-Za-z0-9_.:/-]*".into());
    }
    Ok(())
}
