//! Writes a PGM contact sheet of synthetic faces: one row per identity, one column per image.
//!
//! `cargo run -p facenet-data --example synthetic_sheet -- sheet.pgm [difficulty] [seed]`

use facenet_data::{SyntheticConfig, SyntheticFaces};

const ROWS: usize = 6;
const COLUMNS: usize = 8;
const SIZE: usize = 64;
const GAP: usize = 2;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        return Err("usage: synthetic_sheet OUT.pgm [difficulty] [seed]".into());
    };
    let difficulty: f32 = args.next().map_or(Ok(1.0), |s| s.parse())?;
    let seed: u64 = args.next().map_or(Ok(0), |s| s.parse())?;

    let faces = SyntheticFaces::new(SyntheticConfig {
        identities: ROWS,
        images_per_identity: COLUMNS,
        size: SIZE,
        channels: 1,
        seed,
        difficulty,
    })?;

    let (width, height) = (COLUMNS * (SIZE + GAP) + GAP, ROWS * (SIZE + GAP) + GAP);
    let mut sheet = vec![255u8; width * height];
    for row in 0..ROWS {
        for column in 0..COLUMNS {
            let image = faces.render(row, column);
            let (x0, y0) = (GAP + column * (SIZE + GAP), GAP + row * (SIZE + GAP));
            for y in 0..SIZE {
                for x in 0..SIZE {
                    let v = (image[y * SIZE + x] + 1.0) * 127.5;
                    sheet[(y0 + y) * width + x0 + x] = v.round() as u8;
                }
            }
        }
    }

    let mut bytes = format!("P5\n{width} {height}\n255\n").into_bytes();
    bytes.extend_from_slice(&sheet);
    std::fs::write(&path, bytes)?;
    println!("wrote {path}: {ROWS} identities x {COLUMNS} images, difficulty {difficulty}");
    Ok(())
}
