//! Helpers shared by the integration tests: scratch folders and the shared-data variables.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use image::{GrayImage, Luma, Rgb, RgbImage};

/// A fresh, empty scratch folder under the system temp dir, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("facenet-data-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes a `width` x `height` grey image with every pixel `value`; the format follows
    /// the extension of `rel`.
    pub fn grey(&self, rel: &str, width: u32, height: u32, value: u8) -> PathBuf {
        let path = self.0.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        GrayImage::from_pixel(width, height, Luma([value]))
            .save(&path)
            .unwrap();
        path
    }

    /// Writes a PNG colour image without extension (content must be sniffed).
    pub fn colour_without_extension(&self, rel: &str, rgb: [u8; 3]) -> PathBuf {
        let path = self.0.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let image = RgbImage::from_pixel(4, 4, Rgb(rgb));
        image
            .save_with_format(&path, image::ImageFormat::Png)
            .unwrap();
        path
    }

    pub fn text(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.0.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The folder named by `var`, or `None` after printing which variable to set.
/// A set variable that names no folder fails the test.
pub fn shared_data(var: &str, what: &str) -> Option<PathBuf> {
    match std::env::var_os(var) {
        None => {
            eprintln!("skipping: set {var} to the {what} folder to run this test");
            None
        }
        Some(dir) => {
            let dir = PathBuf::from(dir);
            assert!(dir.is_dir(), "{var}={} is not a folder", dir.display());
            Some(dir)
        }
    }
}
