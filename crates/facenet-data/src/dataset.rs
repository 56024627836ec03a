//! One-folder-per-identity datasets: `root/<identity>/<image>`.
//!
//! [`Dataset::open`] lists identities and their images without decoding anything. Images are
//! recognised by their first bytes (PNG, JPEG, GIF, PNM), so Yale's extension-less GIFs count,
//! and by a known extension, so a damaged `.pgm` is reported when loaded instead of silently
//! dropped. Identities and images are sorted in [`natural_cmp`] order (`s2` before `s10`): that
//! order defines "the i-th image of a folder" in pairs files (SPEC section 4) and the labels of
//! [`Dataset::load_all`] (label = index in [`Dataset::identities`]).

use std::cmp::Ordering;
use std::collections::HashSet;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::DataError;
use crate::preprocess::{ImageSpec, load_image};

/// Extensions taken as images even when their content is not recognised.
const IMAGE_EXTENSIONS: [&str; 9] = [
    "pgm", "ppm", "pbm", "pnm", "png", "jpg", "jpeg", "gif", "jfif",
];

/// A dataset of face images, one folder per person.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    pub root: PathBuf,
    /// Sorted by name in natural order; label `i` of [`Dataset::load_all`] is `identities[i]`.
    pub identities: Vec<Identity>,
}

/// One person: the folder name and its image files, sorted by file name in natural order.
#[derive(Clone, Debug, PartialEq)]
pub struct Identity {
    pub name: String,
    pub images: Vec<PathBuf>,
}

/// Options of [`Dataset::open`].
#[derive(Clone, Debug, Default)]
pub struct OpenOptions {
    /// Skip identity folders without images (logged) instead of failing.
    pub skip_empty: bool,
    /// Fail unless at least this many identities are found.
    pub min_identities: usize,
}

impl OpenOptions {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn skip_empty(mut self, skip: bool) -> Self {
        self.skip_empty = skip;
        self
    }

    pub fn require_identities(mut self, n: usize) -> Self {
        self.min_identities = n;
        self
    }
}

/// What [`Dataset::load_all`] does with a file it cannot decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnDecodeError {
    /// The first undecodable file is an error that names it.
    Fail,
    /// Leave it out, log a warning listing every skipped file, and report them.
    Skip,
}

/// Decoded, preprocessed images with their labels.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoadedImages {
    /// N x C x H x W, in [-1, 1].
    pub pixels: Vec<f32>,
    /// Label of each image: the index of its identity in `names`.
    pub labels: Vec<u32>,
    /// Source of each image (synthetic images carry a made-up `synthetic/<id>/<index>` path).
    pub paths: Vec<PathBuf>,
    /// Files left out under [`OnDecodeError::Skip`], with the reason.
    pub skipped: Vec<(PathBuf, String)>,
    /// Identity names, indexed by label.
    pub names: Vec<String>,
    /// Channels C of each image.
    pub channels: usize,
    /// Side H = W of each image.
    pub size: usize,
}

impl LoadedImages {
    /// Number of images N.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The CHW pixels of image `i`.
    pub fn image(&self, i: usize) -> &[f32] {
        let n = self.channels * self.size * self.size;
        &self.pixels[i * n..(i + 1) * n]
    }
}

impl Dataset {
    /// Lists the identities under `root` (see the module doc for what counts as an image).
    pub fn open(root: impl AsRef<Path>, options: &OpenOptions) -> Result<Dataset, DataError> {
        let root = root.as_ref().to_path_buf();
        if !root.is_dir() {
            return Err(DataError::RootMissing(root));
        }

        let mut identities = Vec::new();
        for entry in sorted_entries(&root)? {
            let name = file_name(&entry);
            if !entry.is_dir() {
                log::debug!(
                    "ignoring {} at the dataset root (not a folder)",
                    entry.display()
                );
                continue;
            }
            let images = list_images(&entry)?;
            if images.is_empty() {
                if options.skip_empty {
                    log::info!("skipping {}: no images", entry.display());
                    continue;
                }
                return Err(DataError::EmptyIdentity(entry));
            }
            identities.push(Identity { name, images });
        }

        if identities.is_empty() {
            return Err(DataError::EmptyRoot(root));
        }
        if identities.len() < options.min_identities {
            return Err(DataError::TooFewIdentities {
                root,
                found: identities.len(),
                required: options.min_identities,
            });
        }
        Ok(Dataset { root, identities })
    }

    /// Total number of images over all identities.
    pub fn num_images(&self) -> usize {
        self.identities.iter().map(|id| id.images.len()).sum()
    }

    /// Identity names in label order.
    pub fn names(&self) -> Vec<String> {
        self.identities.iter().map(|id| id.name.clone()).collect()
    }

    /// The identity called `name`.
    pub fn identity(&self, name: &str) -> Result<&Identity, DataError> {
        self.identities
            .iter()
            .find(|id| id.name == name)
            .ok_or_else(|| DataError::UnknownIdentity {
                name: name.to_string(),
                root: self.root.clone(),
            })
    }

    /// The dataset restricted to `names`, in the order given (so labels follow `names`).
    pub fn subset(&self, names: &[String]) -> Result<Dataset, DataError> {
        let mut seen = HashSet::new();
        let mut identities = Vec::with_capacity(names.len());
        for name in names {
            if !seen.insert(name.as_str()) {
                return Err(DataError::DuplicateIdentity(name.clone()));
            }
            identities.push(self.identity(name)?.clone());
        }
        Ok(Dataset {
            root: self.root.clone(),
            identities,
        })
    }

    /// Decodes and preprocesses one image file.
    pub fn load(&self, path: impl AsRef<Path>, spec: &ImageSpec) -> Result<Vec<f32>, DataError> {
        load_image(path.as_ref(), spec)
    }

    /// Decodes every image; labels are identity indices.
    pub fn load_all(
        &self,
        spec: &ImageSpec,
        on_error: OnDecodeError,
    ) -> Result<LoadedImages, DataError> {
        spec.validate()?;
        let mut out = LoadedImages {
            names: self.names(),
            channels: spec.channels,
            size: spec.size,
            ..Default::default()
        };
        out.pixels.reserve(self.num_images() * spec.len());

        for (label, identity) in self.identities.iter().enumerate() {
            for path in &identity.images {
                match load_image(path, spec) {
                    Ok(pixels) => {
                        out.pixels.extend_from_slice(&pixels);
                        out.labels.push(label as u32);
                        out.paths.push(path.clone());
                    }
                    Err(e) if on_error == OnDecodeError::Skip => {
                        out.skipped.push((path.clone(), e.to_string()));
                    }
                    Err(e) => return Err(e),
                }
            }
        }

        if !out.skipped.is_empty() {
            let list: Vec<String> = out
                .skipped
                .iter()
                .map(|(p, r)| format!("{}: {r}", p.display()))
                .collect();
            log::warn!(
                "skipped {} undecodable images:\n  {}",
                list.len(),
                list.join("\n  ")
            );
        }
        Ok(out)
    }
}

/// Natural order of names: runs of ASCII digits compare as numbers (`2.pgm` < `10.pgm`,
/// `s9` < `s10`), everything else by character. Equal numbers with different zero padding
/// (`01` vs `1`) fall back to plain string order, so the order is total.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a.as_bytes(), b.as_bytes());
    while !x.is_empty() && !y.is_empty() {
        let ord = if x[0].is_ascii_digit() && y[0].is_ascii_digit() {
            let (nx, rx) = split_digits(x);
            let (ny, ry) = split_digits(y);
            (x, y) = (rx, ry);
            compare_digit_runs(nx, ny)
        } else {
            let ord = x[0].cmp(&y[0]);
            (x, y) = (&x[1..], &y[1..]);
            ord
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    x.len().cmp(&y.len()).then_with(|| a.cmp(b))
}

fn split_digits(s: &[u8]) -> (&[u8], &[u8]) {
    let end = s
        .iter()
        .position(|c| !c.is_ascii_digit())
        .unwrap_or(s.len());
    s.split_at(end)
}

/// Compares digit strings by value without parsing (no overflow on long runs).
fn compare_digit_runs(a: &[u8], b: &[u8]) -> Ordering {
    let trim = |s: &'_ [u8]| -> usize { s.iter().position(|&c| c != b'0').unwrap_or(s.len()) };
    let (a, b) = (&a[trim(a)..], &b[trim(b)..]);
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Non-hidden entries of `dir`, sorted naturally by file name.
fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let read = fs::read_dir(dir).map_err(|e| DataError::io(dir, e))?;
    let mut entries = Vec::new();
    for entry in read {
        let entry = entry.map_err(|e| DataError::io(dir, e))?;
        if !entry.file_name().to_string_lossy().starts_with('.') {
            entries.push(entry.path());
        }
    }
    entries.sort_by(|a, b| natural_cmp(&file_name(a), &file_name(b)));
    Ok(entries)
}

/// The image files of one identity folder, naturally sorted.
fn list_images(folder: &Path) -> Result<Vec<PathBuf>, DataError> {
    let mut images = Vec::new();
    for path in sorted_entries(folder)? {
        if path.is_file() && is_image(&path)? {
            images.push(path);
        } else {
            log::debug!("ignoring {} (not an image file)", path.display());
        }
    }
    Ok(images)
}

/// True for a file with a known image extension or image magic bytes.
fn is_image(path: &Path) -> Result<bool, DataError> {
    let known_extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.as_str()));
    if known_extension {
        return Ok(true);
    }

    let mut head = [0u8; 16];
    let mut file = fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let n = file.read(&mut head).map_err(|e| DataError::io(path, e))?;
    Ok(sniff(&head[..n]))
}

/// Recognises PNG, JPEG, GIF and PNM (P1-P6) by their first bytes.
fn sniff(head: &[u8]) -> bool {
    use image::ImageFormat as F;
    let pnm = head.len() >= 3
        && head[0] == b'P'
        && (b'1'..=b'6').contains(&head[1])
        && head[2].is_ascii_whitespace();
    pnm || matches!(image::guess_format(head), Ok(F::Png | F::Jpeg | F::Gif))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order_compares_digit_runs_as_numbers() {
        let mut names = vec![
            "10.pgm", "2.pgm", "1.pgm", "s10", "s9", "s1", "a01", "a1", "b",
        ];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            names,
            [
                "1.pgm", "2.pgm", "10.pgm", "a01", "a1", "b", "s1", "s9", "s10"
            ]
        );
        assert_eq!(natural_cmp("x_0002", "x_0010"), Ordering::Less);
        assert_eq!(
            natural_cmp("img99999999999999999999999", "img1"),
            Ordering::Greater
        );
        assert_eq!(natural_cmp("same", "same"), Ordering::Equal);
    }

    #[test]
    fn sniffing_recognises_magic_bytes_only() {
        assert!(sniff(b"P5\n92 112\n255\n"));
        assert!(sniff(b"GIF87a\x40\x01"));
        assert!(sniff(b"\x89PNG\r\n\x1a\n"));
        assert!(sniff(b"\xff\xd8\xff\xe0"));
        assert!(!sniff(b"Pxx"));
        assert!(!sniff(b"# README"));
        assert!(!sniff(b""));
    }
}
