//! Verification pairs in the LFW `pairs.txt` format (SPEC section 4).
//!
//! The text is a header `folds n`, then for each fold `n` matched lines `name i j` and `n`
//! mismatched lines `name1 i name2 j`, with 1-based image numbers. LFW's `pairsDevTrain.txt`
//! style header of a single count `n` is read as one fold. Image `i` of `name` is the file
//! `name/name_%04d.<ext>` when the folder has one (LFW naming), else the i-th image of the
//! folder in natural order (see [`crate::dataset::natural_cmp`]).
//!
//! Besides reading and writing, the module draws pairs for any one-folder-per-identity dataset:
//! [`PairsFile::generate`] draws a fixed number per fold, [`PairsFile::all_pairs`] takes every
//! matched pair and as many mismatched ones (the trainer's held-out protocol).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::{DataError, Dataset, Identity};

/// Above this many candidate pairs, draw by rejection instead of listing them all.
const ENUMERATE_LIMIT: u64 = 2_000_000;

/// Two images, by identity name and 1-based image number, and the fold the pair belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Pair {
    pub first: (String, usize),
    pub second: (String, usize),
    /// 0-based fold index.
    pub fold: usize,
}

impl Pair {
    /// True when both images show the same identity.
    pub fn matched(&self) -> bool {
        self.first.0 == self.second.0
    }
}

/// A whole pairs file. Pairs are kept in file order: fold by fold, matched before mismatched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PairsFile {
    pub folds: usize,
    /// Matched pairs per fold, which is also the number of mismatched pairs per fold. Files
    /// from [`PairsFile::all_pairs`] may have uneven folds (see [`PairsFile::is_even`]); then
    /// this is the largest fold's count.
    pub per_fold: usize,
    pub pairs: Vec<Pair>,
}

/// A pair as indices: (identity, image, identity, image), all 0-based, first <= second.
type Key = (usize, usize, usize, usize);

impl PairsFile {
    /// Parses pairs text; errors give `source_name`, the line number and the line.
    pub fn parse(text: &str, source_name: &str) -> Result<PairsFile, DataError> {
        let error = |line: usize, text: &str, reason: String| DataError::PairsSyntax {
            source_name: source_name.to_string(),
            line,
            text: text.to_string(),
            reason,
        };

        let mut lines: Vec<(usize, &str)> =
            text.lines().enumerate().map(|(i, l)| (i + 1, l)).collect();
        while lines.last().is_some_and(|(_, l)| l.trim().is_empty()) {
            lines.pop();
        }
        let Some(&(_, header)) = lines.first() else {
            return Err(error(
                1,
                "",
                "empty pairs file: expected a header `folds n`".into(),
            ));
        };

        let header_fields: Vec<&str> = header.split_whitespace().collect();
        let counts: Vec<Option<usize>> = header_fields
            .iter()
            .map(|f| f.parse::<usize>().ok().filter(|&n| n > 0))
            .collect();
        let (folds, per_fold) = match counts.as_slice() {
            [Some(n)] => (1, *n),
            [Some(f), Some(n)] => (*f, *n),
            _ => {
                let reason = "bad header: expected two positive integers `folds n`".into();
                return Err(error(1, header, reason));
            }
        };

        let expected = folds * 2 * per_fold;
        let body = &lines[1..];
        if body.len() < expected {
            let reason = format!(
                "header promises {folds} folds x {per_fold} matched and {per_fold} mismatched \
                 lines ({expected} lines), but the file has {}",
                body.len()
            );
            return Err(error(1, header, reason));
        }
        if let Some(&(line, text)) = body.get(expected) {
            let reason = format!("more pair lines than the header's {expected}");
            return Err(error(line, text, reason));
        }

        let mut pairs = Vec::with_capacity(expected);
        for (k, &(line, text)) in body.iter().enumerate() {
            let fold = k / (2 * per_fold);
            let in_matched_block = k % (2 * per_fold) < per_fold;
            let pair =
                parse_pair(text, fold, in_matched_block).map_err(|r| error(line, text, r))?;
            pairs.push(pair);
        }
        Ok(PairsFile {
            folds,
            per_fold,
            pairs,
        })
    }

    /// Reads and parses a pairs file.
    pub fn read(path: impl AsRef<Path>) -> Result<PairsFile, DataError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
        PairsFile::parse(&text, &path.display().to_string())
    }

    /// Writes the file; see [`PairsFile::to_string`] for when that fails.
    pub fn write(&self, path: impl AsRef<Path>) -> Result<(), DataError> {
        let path = path.as_ref();
        let text = self.to_string()?;
        std::fs::write(path, text).map_err(|e| DataError::io(path, e))
    }

    /// The file text, tab-separated as LFW's. Fails when the folds are uneven (the format has
    /// one count for all folds), when a fold index is out of range or when a name holds
    /// whitespace (the format separates fields by whitespace).
    #[allow(clippy::inherent_to_string)]
    pub fn to_string(&self) -> Result<String, DataError> {
        let sizes = self.fold_sizes()?;
        if let Some((fold, (m, u))) = sizes
            .iter()
            .enumerate()
            .find(|&(_, &(m, u))| m != self.per_fold || u != self.per_fold)
        {
            return Err(DataError::UnwritablePairs(format!(
                "fold {} has {m} matched and {u} mismatched pairs, but the LFW format needs \
                 {} of each in every fold (uneven folds cannot be written)",
                fold + 1,
                self.per_fold
            )));
        }

        let mut text = format!("{}\t{}\n", self.folds, self.per_fold);
        for fold in 0..self.folds {
            for matched in [true, false] {
                for pair in self
                    .pairs
                    .iter()
                    .filter(|p| p.fold == fold && p.matched() == matched)
                {
                    for name in [&pair.first.0, &pair.second.0] {
                        if name.is_empty() || name.contains(char::is_whitespace) {
                            return Err(DataError::UnwritablePairs(format!(
                                "identity name `{name}` is empty or holds whitespace"
                            )));
                        }
                    }
                    let line = if matched {
                        format!("{}\t{}\t{}\n", pair.first.0, pair.first.1, pair.second.1)
                    } else {
                        format!(
                            "{}\t{}\t{}\t{}\n",
                            pair.first.0, pair.first.1, pair.second.0, pair.second.1
                        )
                    };
                    text.push_str(&line);
                }
            }
        }
        Ok(text)
    }

    /// (matched, mismatched) pair counts of each fold.
    pub fn fold_sizes(&self) -> Result<Vec<(usize, usize)>, DataError> {
        let mut sizes = vec![(0, 0); self.folds];
        for pair in &self.pairs {
            let Some(size) = sizes.get_mut(pair.fold) else {
                return Err(DataError::UnwritablePairs(format!(
                    "pair {pair:?} is in fold {} of only {}",
                    pair.fold + 1,
                    self.folds
                )));
            };
            if pair.matched() {
                size.0 += 1;
            } else {
                size.1 += 1;
            }
        }
        Ok(sizes)
    }

    /// True when every fold has `per_fold` matched and `per_fold` mismatched pairs.
    pub fn is_even(&self) -> bool {
        self.fold_sizes().is_ok_and(|s| {
            s.iter()
                .all(|&(m, u)| m == self.per_fold && u == self.per_fold)
        })
    }

    /// The image files of every pair, and whether it is matched.
    pub fn resolve(&self, dataset: &Dataset) -> Result<Vec<(PathBuf, PathBuf, bool)>, DataError> {
        let by_name: HashMap<&str, &Identity> = dataset
            .identities
            .iter()
            .map(|id| (id.name.as_str(), id))
            .collect();
        let image = |(name, number): &(String, usize)| -> Result<PathBuf, DataError> {
            let identity =
                by_name
                    .get(name.as_str())
                    .ok_or_else(|| DataError::UnknownIdentity {
                        name: name.clone(),
                        root: dataset.root.clone(),
                    })?;
            image_path(dataset, identity, *number)
        };
        self.pairs
            .iter()
            .map(|p| Ok((image(&p.first)?, image(&p.second)?, p.matched())))
            .collect()
    }

    /// Draws `per_fold` matched and `per_fold` mismatched pairs for each of `folds` folds from
    /// `identities` of `dataset`, with no pair drawn twice.
    pub fn generate(
        dataset: &Dataset,
        identities: &[String],
        folds: usize,
        per_fold: usize,
        seed: u64,
    ) -> Result<PairsFile, DataError> {
        PairsFile::generate_from_counts(&image_counts(dataset, identities)?, folds, per_fold, seed)
    }

    /// As [`PairsFile::generate`], for identities given as (name, number of images).
    pub fn generate_from_counts(
        counts: &[(String, usize)],
        folds: usize,
        per_fold: usize,
        seed: u64,
    ) -> Result<PairsFile, DataError> {
        if folds == 0 || per_fold == 0 {
            let msg = format!("folds ({folds}) and pairs per fold ({per_fold}) must be positive");
            return Err(DataError::NotEnoughPairs(msg));
        }
        let need = folds * per_fold;
        let shortage = |kind: &str, total: u64| {
            DataError::NotEnoughPairs(format!(
                "{} identities supply only {total} distinct {kind} pairs, but {folds} folds x \
                 {per_fold} = {need} were asked for",
                counts.len()
            ))
        };

        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let matched = draw_matched(counts, need, &mut rng).map_err(|t| shortage("matched", t))?;
        let mismatched =
            draw_mismatched(counts, need, &mut rng).map_err(|t| shortage("mismatched", t))?;

        let fold_of = |k: usize| k / per_fold;
        Ok(assemble(
            counts,
            folds,
            per_fold,
            &matched,
            &mismatched,
            fold_of,
        ))
    }

    /// Every matched pair (i < j) of `identities` and as many distinct random mismatched
    /// pairs, dealt round-robin into `folds` folds. Folds are even only when the number of
    /// matched pairs is a multiple of `folds`.
    pub fn all_pairs(
        dataset: &Dataset,
        identities: &[String],
        folds: usize,
        seed: u64,
    ) -> Result<PairsFile, DataError> {
        PairsFile::all_pairs_from_counts(&image_counts(dataset, identities)?, folds, seed)
    }

    /// As [`PairsFile::all_pairs`], for identities given as (name, number of images).
    pub fn all_pairs_from_counts(
        counts: &[(String, usize)],
        folds: usize,
        seed: u64,
    ) -> Result<PairsFile, DataError> {
        let matched = all_matched(counts);
        if folds == 0 || matched.len() < folds {
            return Err(DataError::NotEnoughPairs(format!(
                "{} identities give {} matched pairs, fewer than the {folds} folds",
                counts.len(),
                matched.len()
            )));
        }

        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mismatched = draw_mismatched(counts, matched.len(), &mut rng).map_err(|total| {
            DataError::NotEnoughPairs(format!(
                "{} identities supply only {total} distinct mismatched pairs for {} matched ones",
                counts.len(),
                matched.len()
            ))
        })?;

        let per_fold = matched.len().div_ceil(folds);
        let fold_of = |k: usize| k % folds;
        Ok(assemble(
            counts,
            folds,
            per_fold,
            &matched,
            &mismatched,
            fold_of,
        ))
    }
}

/// Parses one body line; `Err` is the reason.
fn parse_pair(text: &str, fold: usize, in_matched_block: bool) -> Result<Pair, String> {
    let fields: Vec<&str> = text.split_whitespace().collect();
    let block = if in_matched_block {
        "matched"
    } else {
        "mismatched"
    };
    match (in_matched_block, fields.len()) {
        (true, 3) => {
            let (i, j) = (parse_number(fields[1])?, parse_number(fields[2])?);
            if i == j {
                return Err(format!("matched pair compares image {i} with itself"));
            }
            let name = fields[0].to_string();
            Ok(Pair {
                first: (name.clone(), i),
                second: (name, j),
                fold,
            })
        }
        (false, 4) => {
            if fields[0] == fields[2] {
                return Err("mismatched pair names the same identity twice".into());
            }
            Ok(Pair {
                first: (fields[0].to_string(), parse_number(fields[1])?),
                second: (fields[2].to_string(), parse_number(fields[3])?),
                fold,
            })
        }
        (false, 3) => Err(format!(
            "matched pair `name i j` in the mismatched block of fold {}",
            fold + 1
        )),
        (true, 4) => Err(format!(
            "mismatched pair `name1 i name2 j` in the matched block of fold {}",
            fold + 1
        )),
        (_, n) => Err(format!(
            "expected 3 fields `name i j` or 4 fields `name1 i name2 j` ({block} block of fold \
             {}), found {n}",
            fold + 1
        )),
    }
}

fn parse_number(field: &str) -> Result<usize, String> {
    match field.parse::<usize>() {
        Ok(0) => Err("image numbers start at 1, found 0".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("image number `{field}` is not a positive integer")),
    }
}

/// Image `number` (1-based) of `identity`: LFW's `name_%04d.*` when present, else the
/// number-th file in natural order.
fn image_path(dataset: &Dataset, identity: &Identity, number: usize) -> Result<PathBuf, DataError> {
    let lfw_stem = format!("{}_{number:04}", identity.name);
    let lfw = identity.images.iter().find(|p| {
        p.file_stem()
            .is_some_and(|s| s.to_string_lossy() == lfw_stem)
    });
    if let Some(path) = lfw {
        return Ok(path.clone());
    }
    identity
        .images
        .get(number.wrapping_sub(1))
        .cloned()
        .ok_or_else(|| DataError::PairIndex {
            name: identity.name.clone(),
            index: number,
            available: identity.images.len(),
            folder: dataset.root.join(&identity.name),
        })
}

/// (name, image count) of each requested identity; unknown or repeated names are errors.
fn image_counts(
    dataset: &Dataset,
    identities: &[String],
) -> Result<Vec<(String, usize)>, DataError> {
    let subset = dataset.subset(identities)?;
    Ok(subset
        .identities
        .iter()
        .map(|id| (id.name.clone(), id.images.len()))
        .collect())
}

/// Every matched pair, identity by identity, i < j.
fn all_matched(counts: &[(String, usize)]) -> Vec<Key> {
    let mut keys = Vec::new();
    for (a, &(_, n)) in counts.iter().enumerate() {
        for i in 0..n {
            for j in i + 1..n {
                keys.push((a, i, a, j));
            }
        }
    }
    keys
}

/// `need` distinct matched pairs, uniform over all of them; `Err(total)` when too few exist.
fn draw_matched(
    counts: &[(String, usize)],
    need: usize,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<Key>, u64> {
    let weights: Vec<u64> = counts
        .iter()
        .map(|&(_, n)| (n as u64) * (n as u64).saturating_sub(1) / 2)
        .collect();
    let total: u64 = weights.iter().sum();
    if total < need as u64 {
        return Err(total);
    }
    if total <= ENUMERATE_LIMIT || total < 4 * need as u64 {
        let mut all = all_matched(counts);
        all.shuffle(rng);
        all.truncate(need);
        return Ok(all);
    }

    // Rejection: pick an identity by its number of pairs, then two distinct images of it.
    let cumulative = prefix_sums(&weights);
    let mut seen = HashSet::with_capacity(need);
    let mut keys = Vec::with_capacity(need);
    while keys.len() < need {
        let a = pick(&cumulative, rng.random_range(0..total));
        let n = counts[a].1;
        let (i, j) = (rng.random_range(0..n), rng.random_range(0..n));
        let key = (a, i.min(j), a, i.max(j));
        if i != j && seen.insert(key) {
            keys.push(key);
        }
    }
    Ok(keys)
}

/// `need` distinct mismatched pairs, uniform over all of them; `Err(total)` when too few exist.
fn draw_mismatched(
    counts: &[(String, usize)],
    need: usize,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<Key>, u64> {
    let sizes: Vec<u64> = counts.iter().map(|&(_, n)| n as u64).collect();
    let images: u64 = sizes.iter().sum();
    let same: u64 = sizes.iter().map(|n| n * n).sum();
    let total = (images * images - same) / 2;
    if total < need as u64 {
        return Err(total);
    }
    if total <= ENUMERATE_LIMIT || total < 4 * need as u64 {
        let mut all = Vec::with_capacity(total as usize);
        for (a, &(_, na)) in counts.iter().enumerate() {
            for (b, &(_, nb)) in counts.iter().enumerate().skip(a + 1) {
                for i in 0..na {
                    all.extend((0..nb).map(|j| (a, i, b, j)));
                }
            }
        }
        all.shuffle(rng);
        all.truncate(need);
        return Ok(all);
    }

    // Rejection: two images uniform over the whole set, kept when the identities differ.
    let cumulative = prefix_sums(&sizes);
    let mut seen = HashSet::with_capacity(need);
    let mut keys = Vec::with_capacity(need);
    while keys.len() < need {
        let (g, h) = (rng.random_range(0..images), rng.random_range(0..images));
        let (a, b) = (pick(&cumulative, g), pick(&cumulative, h));
        if a == b {
            continue;
        }
        let i = (g - cumulative[a]) as usize;
        let j = (h - cumulative[b]) as usize;
        let key = if a < b { (a, i, b, j) } else { (b, j, a, i) };
        if seen.insert(key) {
            keys.push(key);
        }
    }
    Ok(keys)
}

/// Exclusive prefix sums: `out[k]` is the sum of `values[..k]`.
fn prefix_sums(values: &[u64]) -> Vec<u64> {
    let mut acc = 0;
    values
        .iter()
        .map(|v| {
            let start = acc;
            acc += v;
            start
        })
        .collect()
}

/// The bucket of `r` given exclusive prefix sums (empty buckets are never chosen).
fn pick(cumulative: &[u64], r: u64) -> usize {
    cumulative.partition_point(|&start| start <= r) - 1
}

/// Builds the file: the k-th matched and k-th mismatched key go to `fold_of(k)`; within a fold
/// pairs are sorted by identity and image, matched first.
fn assemble(
    counts: &[(String, usize)],
    folds: usize,
    per_fold: usize,
    matched: &[Key],
    mismatched: &[Key],
    fold_of: impl Fn(usize) -> usize,
) -> PairsFile {
    let mut by_fold: Vec<(Vec<Key>, Vec<Key>)> = vec![Default::default(); folds];
    for (k, &key) in matched.iter().enumerate() {
        by_fold[fold_of(k)].0.push(key);
    }
    for (k, &key) in mismatched.iter().enumerate() {
        by_fold[fold_of(k)].1.push(key);
    }

    let mut pairs = Vec::with_capacity(matched.len() + mismatched.len());
    for (fold, (mut m, mut u)) in by_fold.into_iter().enumerate() {
        m.sort_unstable();
        u.sort_unstable();
        for (a, i, b, j) in m.into_iter().chain(u) {
            pairs.push(Pair {
                first: (counts[a].0.clone(), i + 1),
                second: (counts[b].0.clone(), j + 1),
                fold,
            });
        }
    }
    PairsFile {
        folds,
        per_fold,
        pairs,
    }
}
