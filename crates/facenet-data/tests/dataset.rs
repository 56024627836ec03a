//! Dataset reader: folders built here, and the shared ORL and Yale sets when their variables
//! are set.

mod common;

use common::{Scratch, shared_data};
use facenet_data::{Crop, DataError, Dataset, ImageSpec, OnDecodeError, OpenOptions};

fn names(dataset: &Dataset) -> Vec<String> {
    dataset.names()
}

fn file_names(dataset: &Dataset, identity: usize) -> Vec<String> {
    dataset.identities[identity]
        .images
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn open_sorts_naturally_and_ignores_non_images() {
    let dir = Scratch::new("open");
    for i in [1, 2, 10] {
        dir.grey(&format!("s10/{i}.pgm"), 3, 3, 100);
        dir.grey(&format!("s2/{i}.png"), 3, 3, 100);
    }
    dir.colour_without_extension("s2/subject.happy", [200, 10, 10]);
    dir.text("s2/notes.txt", "not an image");
    dir.grey("s2/.hidden.pgm", 3, 3, 0);
    dir.text("README.md", "# readme");
    dir.text("SHA256SUMS", "abc  s2/1.png");
    dir.grey("loose.pgm", 3, 3, 0);
    std::fs::create_dir_all(dir.path().join(".git")).unwrap();

    let dataset = Dataset::open(dir.path(), &OpenOptions::new()).unwrap();
    assert_eq!(names(&dataset), ["s2", "s10"]);
    assert_eq!(
        file_names(&dataset, 0),
        ["1.png", "2.png", "10.png", "subject.happy"]
    );
    assert_eq!(file_names(&dataset, 1), ["1.pgm", "2.pgm", "10.pgm"]);
    assert_eq!(dataset.num_images(), 7);
}

#[test]
fn open_errors_name_the_problem() {
    let missing = std::env::temp_dir().join("facenet-data-no-such-folder");
    let err = Dataset::open(&missing, &OpenOptions::new()).unwrap_err();
    assert!(matches!(err, DataError::RootMissing(_)), "{err}");
    assert!(err.to_string().contains("facenet-data-no-such-folder"));

    let dir = Scratch::new("errors");
    dir.text("README.md", "only a readme");
    let err = Dataset::open(dir.path(), &OpenOptions::new()).unwrap_err();
    assert!(matches!(err, DataError::EmptyRoot(_)), "{err}");

    dir.grey("alice/1.pgm", 2, 2, 1);
    dir.text("bob/readme.txt", "no images here");
    let err = Dataset::open(dir.path(), &OpenOptions::new()).unwrap_err();
    assert!(matches!(err, DataError::EmptyIdentity(_)), "{err}");
    assert!(err.to_string().contains("bob"), "{err}");

    let dataset = Dataset::open(dir.path(), &OpenOptions::new().skip_empty(true)).unwrap();
    assert_eq!(names(&dataset), ["alice"]);

    let options = OpenOptions::new().skip_empty(true).require_identities(2);
    let err = Dataset::open(dir.path(), &options).unwrap_err();
    assert!(
        err.to_string()
            .contains("has 1 identities, but 2 are required"),
        "{err}"
    );
}

#[test]
fn undecodable_file_fails_or_is_skipped_and_listed() {
    let dir = Scratch::new("decode");
    dir.grey("a/1.pgm", 4, 4, 255);
    dir.grey("a/2.pgm", 4, 4, 0);
    let broken = dir.text("a/3.png", "this is not a png");
    dir.grey("b/1.png", 4, 4, 51);
    let dataset = Dataset::open(dir.path(), &OpenOptions::new()).unwrap();
    let spec = ImageSpec::grey(2);

    let err = dataset.load_all(&spec, OnDecodeError::Fail).unwrap_err();
    assert!(matches!(err, DataError::Decode { .. }), "{err}");
    assert!(err.to_string().contains("3.png"), "{err}");

    let loaded = dataset.load_all(&spec, OnDecodeError::Skip).unwrap();
    assert_eq!(loaded.labels, [0, 0, 1]);
    assert_eq!(loaded.skipped.len(), 1);
    assert_eq!(loaded.skipped[0].0, broken);
    assert_eq!(loaded.pixels.len(), 3 * 4);
    assert_eq!(loaded.image(0), &[1.0; 4]);
    assert_eq!(loaded.image(1), &[-1.0; 4]);
    assert!(
        loaded
            .image(2)
            .iter()
            .all(|&v| (v - (0.4 - 1.0)).abs() < 1e-6)
    );
    assert_eq!(loaded.names, ["a", "b"]);
}

#[test]
fn subset_keeps_the_given_order_and_rejects_unknown_names() {
    let dir = Scratch::new("subset");
    for name in ["p1", "p2", "p3"] {
        dir.grey(&format!("{name}/1.pgm"), 2, 2, 0);
    }
    let dataset = Dataset::open(dir.path(), &OpenOptions::new()).unwrap();
    let sub = dataset.subset(&["p3".into(), "p1".into()]).unwrap();
    assert_eq!(names(&sub), ["p3", "p1"]);

    let err = dataset.subset(&["p1".into(), "nobody".into()]).unwrap_err();
    assert!(err.to_string().contains("`nobody`"), "{err}");
    let err = dataset.subset(&["p1".into(), "p1".into()]).unwrap_err();
    assert!(matches!(err, DataError::DuplicateIdentity(_)), "{err}");
}

#[test]
fn att_faces_has_40_identities_of_10_images() {
    let Some(root) = shared_data("FACENET_ATT_FACES", "shared/data/att_faces") else {
        return;
    };
    let dataset = Dataset::open(&root, &OpenOptions::new().require_identities(40)).unwrap();
    assert_eq!(dataset.identities.len(), 40);
    assert_eq!(dataset.num_images(), 400);
    assert_eq!(dataset.identities[1].name, "s2");
    assert_eq!(dataset.identities[9].name, "s10");
    assert_eq!(file_names(&dataset, 0)[1], "2.pgm");
    assert_eq!(file_names(&dataset, 0)[9], "10.pgm");

    let spec = ImageSpec::grey(64);
    let first = dataset
        .load(&dataset.identities[0].images[0], &spec)
        .unwrap();
    assert_eq!(first.len(), 64 * 64);
    assert!(first.iter().all(|v| (-1.0..=1.0).contains(v)));

    let loaded = dataset.load_all(&spec, OnDecodeError::Fail).unwrap();
    assert_eq!((loaded.len(), loaded.channels, loaded.size), (400, 1, 64));
    assert_eq!(loaded.image(0), first.as_slice());
    assert_eq!(loaded.labels[10..20], [1; 10]);
}

#[test]
fn yale_pgm_has_15_identities_of_11_images() {
    let Some(root) = shared_data("FACENET_YALE_FACES", "shared/data/yalefaces/pgm") else {
        return;
    };
    let dataset = Dataset::open(&root, &OpenOptions::new()).unwrap();
    assert_eq!(dataset.identities.len(), 15);
    assert!(dataset.identities.iter().all(|id| id.images.len() == 11));
    assert_eq!(dataset.identities[0].name, "subject01");

    let spec = ImageSpec {
        size: 32,
        channels: 3,
        crop: Crop::CentreSquare,
    };
    let loaded = dataset.load_all(&spec, OnDecodeError::Fail).unwrap();
    assert_eq!(loaded.len(), 165);
    assert_eq!(loaded.pixels.len(), 165 * 3 * 32 * 32);
    // Grey input: the three channels are copies.
    let image = loaded.image(0);
    assert_eq!(image[..1024], image[1024..2048]);

    // The extension-less GIF originals beside pgm/ are recognised by content.
    let original = root.parent().unwrap().join("original");
    if original.is_dir() {
        let gif = original.join("subject02.happy");
        let from_gif = dataset.load(&gif, &spec).unwrap();
        let from_pgm = dataset
            .load(root.join("subject02/happy.pgm"), &spec)
            .unwrap();
        assert_eq!(from_gif, from_pgm);
    }
}
