//! Who may write the files and directories libsts keeps on disk.
//!
//! MTAs often run with a umask of 0 (Exim does), so nothing here relies on
//! the umask: every file and directory libsts creates gets its mode set
//! explicitly. By default only the owner can read or write them (files
//! 0600, directories 0700). An administrator who wants a group to share a
//! directory asks for it by making that directory set-group-ID and group
//! writable (`chmod 2770 DIR`): then libsts creates group-writable files
//! (0660) and directories (2770) in it. The setting lives on the directory
//! itself, so the Exim module, C programs and the `sts` tool all see the
//! same one, whatever environment they run in.
//!
//! A path that someone else could have written is not trusted: a cache
//! entry that others could rewrite could turn `mode: enforce` into
//! `mode: none`, and an outcome store that others could write could be
//! filled with forged reports. Directories and files that others can
//! write, or that the group can write without the directory asking for
//! group access, are refused with an error naming the path.

use std::fmt;
use std::fs::{self, DirBuilder, File, Metadata, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::Path;

const SET_GID: u32 = 0o2000;
const GROUP_WRITE: u32 = 0o020;
const OTHER_WRITE: u32 = 0o002;

/// Who besides the owner may use what libsts creates in a directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Only the owner (files 0600, directories 0700): the default.
    Owner,
    /// The owner and the directory's group (files 0660, directories
    /// 2770): asked for by a set-group-ID directory.
    Group,
}

impl Access {
    /// What a directory asks for: [`Access::Group`] when it is
    /// set-group-ID.
    pub fn of_dir(md: &Metadata) -> Access {
        if md.mode() & SET_GID != 0 {
            Access::Group
        } else {
            Access::Owner
        }
    }

    /// The mode of a file libsts creates.
    pub fn file_mode(self) -> u32 {
        match self {
            Access::Owner => 0o600,
            Access::Group => 0o660,
        }
    }

    /// The mode of a directory libsts creates.
    pub fn dir_mode(self) -> u32 {
        match self {
            Access::Owner => 0o700,
            Access::Group => 0o2770,
        }
    }
}

/// Why a path on disk is not trusted.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessError {
    /// Users other than the owner and the group can write it.
    OthersCanWrite,
    /// The group can write it, but the directory does not ask for group
    /// access (it is not set-group-ID).
    GroupCanWrite,
    /// A file in an owner-only directory belongs to another user.
    ForeignOwner,
    /// It should be a directory and is not.
    NotADirectory,
    /// It should be a regular file and is not.
    NotAFile,
}

impl AccessError {
    /// A short description.
    pub fn as_str(self) -> &'static str {
        match self {
            AccessError::OthersCanWrite => "writable by other users; refusing to trust it",
            AccessError::GroupCanWrite => {
                "writable by its group but not in a set-group-ID directory; refusing to trust it"
            }
            AccessError::ForeignOwner => {
                "owned by another user in an owner-only directory; refusing to trust it"
            }
            AccessError::NotADirectory => "not a directory",
            AccessError::NotAFile => "not a regular file",
        }
    }

    /// An I/O error that names `path`, for callers that report I/O errors.
    pub fn at(self, path: &Path) -> io::Error {
        io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("{}: {}", path.display(), self.as_str()),
        )
    }
}

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for AccessError {}

/// Checks that a directory can be trusted and says what access it asks
/// for.
pub fn check_dir(md: &Metadata) -> Result<Access, AccessError> {
    if !md.is_dir() {
        return Err(AccessError::NotADirectory);
    }
    let access = Access::of_dir(md);
    let mode = md.mode();
    if mode & OTHER_WRITE != 0 {
        return Err(AccessError::OthersCanWrite);
    }
    if mode & GROUP_WRITE != 0 && access == Access::Owner {
        return Err(AccessError::GroupCanWrite);
    }
    Ok(access)
}

/// Checks that a file in a directory with metadata `dir` can be trusted.
pub fn check_file(md: &Metadata, dir: &Metadata) -> Result<(), AccessError> {
    if !md.is_file() {
        return Err(AccessError::NotAFile);
    }
    let access = check_dir(dir)?;
    let mode = md.mode();
    if mode & OTHER_WRITE != 0 {
        return Err(AccessError::OthersCanWrite);
    }
    if access == Access::Owner {
        if mode & GROUP_WRITE != 0 {
            return Err(AccessError::GroupCanWrite);
        }
        // Root and the directory's owner both write here (Exim routes as
        // root and delivers as its own user); anyone else could only have
        // put the file there while the directory was open to them.
        if md.uid() != 0 && md.uid() != dir.uid() {
            return Err(AccessError::ForeignOwner);
        }
    }
    Ok(())
}

/// Creates `dir` and any missing parents, each with the mode of `access`
/// whatever the umask, then checks that `dir` can be trusted. Directories
/// that already exist keep their mode. Returns the access `dir` asks for.
pub fn create_dir_all(dir: &Path, access: Access) -> io::Result<Access> {
    let mut missing = Vec::new();
    let mut p = dir;
    loop {
        match fs::symlink_metadata(p) {
            Ok(_) => break,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                missing.push(p);
                match p.parent() {
                    Some(parent) if !parent.as_os_str().is_empty() => p = parent,
                    _ => break,
                }
            }
            Err(e) => return Err(e),
        }
    }
    for d in missing.into_iter().rev() {
        match DirBuilder::new().mode(access.dir_mode()).create(d) {
            Ok(()) => {
                fs::set_permissions(d, Permissions::from_mode(access.dir_mode()))?;
                adopt_path(d)?;
            }
            // Another process made it first: it is checked like any other.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    let md = fs::metadata(dir)?;
    check_dir(&md).map_err(|e| e.at(dir))
}

/// Gives a file just created the mode of `access` whatever the umask and,
/// when root created it in a directory that belongs to someone else, that
/// directory's owner and group, so the MTA user can still read and
/// replace it.
pub fn finish_file(file: &File, dir: &Path, access: Access) -> io::Result<()> {
    file.set_permissions(Permissions::from_mode(access.file_mode()))?;
    let md = file.metadata()?;
    let dmd = fs::metadata(dir)?;
    if md.uid() == 0 && dmd.uid() != 0 {
        std::os::unix::fs::fchown(file, Some(dmd.uid()), Some(dmd.gid()))?;
    }
    Ok(())
}

/// Like [`finish_file`] for a directory just created (the mode is already
/// set): hands it to the parent's owner when root made it.
fn adopt_path(d: &Path) -> io::Result<()> {
    let Some(parent) = d.parent().filter(|p| !p.as_os_str().is_empty()) else {
        return Ok(());
    };
    let md = fs::metadata(d)?;
    let pmd = fs::metadata(parent)?;
    if md.uid() == 0 && pmd.uid() != 0 {
        std::os::unix::fs::chown(d, Some(pmd.uid()), Some(pmd.gid()))?;
    }
    Ok(())
}
