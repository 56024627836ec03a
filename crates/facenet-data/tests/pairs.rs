//! Pairs files: parsing errors with line numbers, round trips, generation and resolution.

mod common;

use std::collections::HashSet;

use common::Scratch;
use facenet_data::{DataError, Dataset, OpenOptions, Pair, PairsFile};

const TWO_FOLDS: &str = "2\t2
Abel_Pacheco\t1\t4
Akhmed_Zakayev\t1\t3
Abdel_Madi_Shabneh\t1\tDean_Barker\t1
Abdel_Madi_Shabneh\t1\tGiancarlo_Fisichella\t1
Ann\t2\t3
Bob\t1\t10
Ann\t1\tBob\t2
Carl\t5\tAnn\t1
";

fn parse_err(text: &str) -> String {
    PairsFile::parse(text, "pairs.txt").unwrap_err().to_string()
}

#[test]
fn parses_lfw_layout_into_folds() {
    let file = PairsFile::parse(TWO_FOLDS, "pairs.txt").unwrap();
    assert_eq!((file.folds, file.per_fold, file.pairs.len()), (2, 2, 8));
    assert_eq!(
        file.pairs[0],
        Pair {
            first: ("Abel_Pacheco".into(), 1),
            second: ("Abel_Pacheco".into(), 4),
            fold: 0
        }
    );
    assert!(!file.pairs[2].matched());
    assert_eq!(file.pairs[5].second, ("Bob".into(), 10));
    assert_eq!(file.pairs[7].fold, 1);
    let matched: Vec<bool> = file.pairs.iter().map(Pair::matched).collect();
    assert_eq!(
        matched,
        [true, true, false, false, true, true, false, false]
    );

    // A one-count header (pairsDevTrain.txt) is one fold.
    let dev = PairsFile::parse("1\nA 1 2\nA 1 B 1\n", "dev").unwrap();
    assert_eq!((dev.folds, dev.per_fold), (1, 1));
}

#[test]
fn parse_errors_give_line_number_and_text() {
    assert!(parse_err("").contains("pairs.txt:1: empty pairs file"));
    assert!(parse_err("ten 300\n").contains("pairs.txt:1: bad header"));
    assert!(parse_err("0 3\n").contains("bad header"));

    let e = parse_err("1 1\nA 1 2\n");
    assert!(
        e.contains("pairs.txt:1:") && e.contains("the file has 1"),
        "{e}"
    );
    let e = parse_err("1 1\nA 1 2\nA 1 B 2\nC 1 2\n");
    assert!(
        e.contains("pairs.txt:4: more pair lines") && e.contains("`C 1 2`"),
        "{e}"
    );

    let e = parse_err("1 1\nA 1 x\nA 1 B 2\n");
    assert!(e.contains("pairs.txt:2: image number `x`"), "{e}");
    let e = parse_err("1 1\nA 1 2\nA 0 B 2\n");
    assert!(e.contains("pairs.txt:3: image numbers start at 1") && e.contains("`A 0 B 2`"));
    let e = parse_err("1 1\nA 1 2 3 4 5\nA 1 B 2\n");
    assert!(e.contains("pairs.txt:2: expected 3 fields"), "{e}");
    let e = parse_err("1 1\nA 1 B 2\nA 1 B 2\n");
    assert!(
        e.contains("pairs.txt:2: mismatched pair `name1 i name2 j` in the matched"),
        "{e}"
    );
    let e = parse_err("1 1\nA 1 2\nA 1 3\n");
    assert!(
        e.contains("pairs.txt:3: matched pair `name i j` in the mismatched"),
        "{e}"
    );
    let e = parse_err("1 1\nA 2 2\nA 1 B 2\n");
    assert!(
        e.contains("pairs.txt:2: matched pair compares image 2 with itself"),
        "{e}"
    );
    let e = parse_err("1 1\nA 1 2\nA 1 A 2\n");
    assert!(
        e.contains("pairs.txt:3: mismatched pair names the same identity twice"),
        "{e}"
    );
}

#[test]
fn text_and_file_round_trip() {
    let file = PairsFile::parse(TWO_FOLDS, "pairs.txt").unwrap();
    let text = file.to_string().unwrap();
    assert_eq!(text, TWO_FOLDS);

    let dir = Scratch::new("pairs-roundtrip");
    let path = dir.path().join("pairs.txt");
    file.write(&path).unwrap();
    assert_eq!(PairsFile::read(&path).unwrap(), file);

    let err = PairsFile::read(dir.path().join("missing.txt")).unwrap_err();
    assert!(err.to_string().contains("missing.txt"), "{err}");
}

fn counts(n: usize, images: usize) -> Vec<(String, usize)> {
    (1..=n).map(|i| (format!("s{i}"), images)).collect()
}

fn assert_distinct(file: &PairsFile) {
    let mut seen = HashSet::new();
    for p in &file.pairs {
        let mut key = [p.first.clone(), p.second.clone()];
        key.sort();
        assert!(seen.insert(key), "pair drawn twice: {p:?}");
        assert_ne!(p.first, p.second);
    }
}

#[test]
fn generate_draws_distinct_pairs_per_fold_deterministically() {
    let ids = counts(10, 10);
    let file = PairsFile::generate_from_counts(&ids, 10, 30, 5).unwrap();
    assert_eq!(file.pairs.len(), 600);
    assert!(file.is_even());
    assert_eq!(file.fold_sizes().unwrap(), vec![(30, 30); 10]);
    assert_distinct(&file);
    assert!(
        file.pairs
            .iter()
            .all(|p| p.first.1 <= 10 && p.second.1 <= 10)
    );

    // The text round-trips, and the same seed draws the same file; another seed another.
    let text = file.to_string().unwrap();
    assert_eq!(PairsFile::parse(&text, "generated").unwrap(), file);
    assert_eq!(
        PairsFile::generate_from_counts(&ids, 10, 30, 5).unwrap(),
        file
    );
    assert_ne!(
        PairsFile::generate_from_counts(&ids, 10, 30, 6).unwrap(),
        file
    );

    // Every identity shows up across the file.
    let used: HashSet<&str> = file.pairs.iter().map(|p| p.first.0.as_str()).collect();
    assert_eq!(used.len(), 10);
}

#[test]
fn generate_uses_rejection_sampling_on_large_sets_without_duplicates() {
    // 3000 identities x 40 images: 2.3e6 matched and 7.2e9 mismatched candidates, both over
    // the limit for listing them all.
    let ids = counts(3000, 40);
    let file = PairsFile::generate_from_counts(&ids, 10, 300, 1).unwrap();
    assert!(file.is_even());
    assert_distinct(&file);
}

#[test]
fn generate_reports_when_identities_cannot_supply_enough_pairs() {
    // 3 identities x 3 images: 9 matched pairs and 27 mismatched.
    let ids = counts(3, 3);
    assert!(PairsFile::generate_from_counts(&ids, 3, 3, 0).is_ok());
    let err = PairsFile::generate_from_counts(&ids, 2, 5, 0).unwrap_err();
    assert!(matches!(err, DataError::NotEnoughPairs(_)));
    assert!(
        err.to_string().contains("only 9 distinct matched pairs"),
        "{err}"
    );

    let single = counts(1, 10);
    let err = PairsFile::generate_from_counts(&single, 1, 1, 0).unwrap_err();
    assert!(
        err.to_string().contains("only 0 distinct mismatched"),
        "{err}"
    );
}

#[test]
fn all_pairs_takes_every_matched_pair_and_deals_round_robin() {
    // 4 identities x 5 images: 4 * 10 = 40 matched pairs.
    let ids = counts(4, 5);
    let even = PairsFile::all_pairs_from_counts(&ids, 10, 3).unwrap();
    assert_eq!(even.pairs.iter().filter(|p| p.matched()).count(), 40);
    assert_eq!(even.pairs.len(), 80);
    assert!(even.is_even());
    assert_distinct(&even);
    // Round robin spreads each identity's pairs over the folds.
    let s1_folds: HashSet<usize> = even
        .pairs
        .iter()
        .filter(|p| p.matched() && p.first.0 == "s1")
        .map(|p| p.fold)
        .collect();
    assert_eq!(s1_folds.len(), 10);

    // 40 matched pairs in 6 folds: sizes 7,7,7,7,6,6, which the LFW format cannot hold.
    let uneven = PairsFile::all_pairs_from_counts(&ids, 6, 3).unwrap();
    assert!(!uneven.is_even());
    assert_eq!(uneven.per_fold, 7);
    let sizes = uneven.fold_sizes().unwrap();
    assert_eq!(sizes, [(7, 7), (7, 7), (7, 7), (7, 7), (6, 6), (6, 6)]);
    let err = uneven.to_string().unwrap_err();
    assert!(
        err.to_string()
            .contains("fold 5 has 6 matched and 6 mismatched"),
        "{err}"
    );
}

#[test]
fn resolve_prefers_lfw_names_then_sorted_order() {
    let dir = Scratch::new("pairs-resolve");
    for i in [1, 2, 10] {
        dir.grey(&format!("s1/{i}.pgm"), 2, 2, 0);
    }
    // LFW naming: number 3 is Ann_0003 even though only two files exist.
    dir.grey("Ann/Ann_0001.png", 2, 2, 0);
    dir.grey("Ann/Ann_0003.png", 2, 2, 0);
    let dataset = Dataset::open(dir.path(), &OpenOptions::new()).unwrap();

    let file = PairsFile::parse("1 1\ns1 2 3\ns1 3 Ann 3\n", "p").unwrap();
    let resolved = file.resolve(&dataset).unwrap();
    let root = dir.path();
    assert_eq!(
        resolved[0],
        (root.join("s1/2.pgm"), root.join("s1/10.pgm"), true)
    );
    assert_eq!(
        resolved[1],
        (root.join("s1/10.pgm"), root.join("Ann/Ann_0003.png"), false)
    );

    let past_end = PairsFile::parse("1 1\ns1 1 4\ns1 1 Ann 1\n", "p").unwrap();
    let err = past_end.resolve(&dataset).unwrap_err();
    assert!(err.to_string().contains("image 4 of `s1`") && err.to_string().contains("only 3"));

    let unknown = PairsFile::parse("1 1\ns1 1 2\ns1 1 Zed 1\n", "p").unwrap();
    let err = unknown.resolve(&dataset).unwrap_err();
    assert!(err.to_string().contains("`Zed`"), "{err}");

    // Generated pairs for a real folder resolve, and unknown identities are refused.
    let names = dataset.names();
    let generated = PairsFile::generate(&dataset, &names, 1, 2, 0).unwrap();
    assert_eq!(generated.resolve(&dataset).unwrap().len(), 4);
    let err = PairsFile::generate(&dataset, &["nobody".into()], 1, 1, 0).unwrap_err();
    assert!(err.to_string().contains("`nobody`"), "{err}");
}

#[test]
fn att_faces_held_out_identities_give_resolvable_pairs() {
    let Some(root) = common::shared_data("FACENET_ATT_FACES", "shared/data/att_faces") else {
        return;
    };
    let dataset = Dataset::open(&root, &OpenOptions::new().require_identities(40)).unwrap();
    let split = facenet_data::Split::new(&dataset, 10, 42).unwrap();

    // 10 identities x 45 matched pairs = 450, dealt into 10 even folds.
    let file = PairsFile::all_pairs(&dataset, &split.held_out, 10, 42).unwrap();
    assert!(file.is_even());
    assert_eq!((file.per_fold, file.pairs.len()), (45, 900));
    let resolved = file.resolve(&dataset).unwrap();
    assert!(
        resolved
            .iter()
            .all(|(a, b, _)| a.is_file() && b.is_file() && a != b)
    );
    assert!(
        file.pairs
            .iter()
            .all(|p| split.held_out.contains(&p.first.0))
    );

    let drawn = PairsFile::generate(&dataset, &split.held_out, 10, 30, 1).unwrap();
    assert_eq!(drawn.resolve(&dataset).unwrap().len(), 600);
}
