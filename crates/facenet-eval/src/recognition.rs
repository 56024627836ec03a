//! Recognition: who is this? Nearest neighbours over a precomputed distance matrix.
//!
//! Matrices are row-major f32 squared-L2 distances: `dist[i * n + j]` for the leave-one-out
//! N x N matrix, `dist[p * n_gallery + g]` for probes against a gallery. Neighbours are ordered
//! by increasing distance, equal distances by increasing index, so every result is deterministic.
//!
//! Definitions (SPEC section 4):
//! - **top-1**: the label of the nearest neighbour is the probe's label.
//! - **top-5**: the probe's label is among the labels of the 5 nearest neighbours (the usual
//!   retrieval "top-5": a hit anywhere in the first five images, not five distinct identities).
//! - **k-NN accuracy**: the label with the most votes among the k nearest neighbours is the
//!   probe's label; a tie between labels goes to the one whose nearest member comes first. With
//!   k = 1 this is top-1.
//! - When fewer than k (or 5) neighbours exist, all of them are used.
//!
//! Leave-one-out ([`knn_leave_one_out`]): every image is a probe against all others; probes
//! whose identity has no other image cannot be recognised and are excluded (and counted).
//!
//! Gallery ([`knn_gallery`]): probes whose label is absent from the gallery are *unknown*; the
//! closed-set scores are over the known probes. With an open-set threshold a probe is accepted
//! when its nearest gallery distance is `<= threshold`, and the report adds the share of unknown
//! probes rejected, the share of known probes falsely rejected, and top-1 over the accepted known
//! probes.
//!
//! Cost: per probe, a linear-time selection of the nearest `max(5, k)` and a sort of those only.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::EvalError;

/// Accuracy of the k-NN majority vote for one k.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KnnAccuracy {
    pub k: usize,
    pub accuracy: f64,
}

/// Open-set results of [`knn_gallery`]; a share is `None` when no probe falls in its denominator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenSetReport {
    pub threshold: f32,
    pub n_known: usize,
    pub n_unknown: usize,
    /// Unknown probes with nearest distance > threshold / unknown probes.
    pub unknown_rejected: Option<f64>,
    /// Known probes with nearest distance > threshold / known probes.
    pub known_false_rejected: Option<f64>,
    /// Top-1 correct / known probes accepted.
    pub top1_known_accepted: Option<f64>,
}

/// Everything the k-NN evaluations measure. JSON names follow SPEC section 5.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecognitionReport {
    pub n_probes: usize,
    /// Probes scored: all probes less the excluded ones.
    pub n_evaluated: usize,
    /// Leave-one-out: singleton identities. Gallery: probes whose label is not in the gallery.
    pub n_excluded: usize,
    pub top1: f64,
    pub top5: f64,
    /// One entry per requested k, in the order given.
    pub knn: Vec<KnnAccuracy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_set: Option<OpenSetReport>,
}

/// Hit counts over the scored probes, turned into rates at the end.
struct Tally {
    top1: usize,
    top5: usize,
    knn: Vec<usize>,
    n: usize,
}

impl Tally {
    fn new(ks: &[usize]) -> Self {
        Tally {
            top1: 0,
            top5: 0,
            knn: vec![0; ks.len()],
            n: 0,
        }
    }

    /// Scores one probe from its neighbours' labels, nearest first.
    fn add(&mut self, truth: u32, neighbour_labels: &[u32], ks: &[usize]) {
        self.n += 1;
        self.top1 += usize::from(neighbour_labels.first() == Some(&truth));
        self.top5 += usize::from(neighbour_labels.iter().take(5).any(|&l| l == truth));
        for (hits, &k) in self.knn.iter_mut().zip(ks) {
            let k = k.min(neighbour_labels.len());
            *hits += usize::from(majority_vote(&neighbour_labels[..k]) == Some(truth));
        }
    }

    fn report(&self, ks: &[usize], n_probes: usize) -> RecognitionReport {
        let rate = |hits: usize| hits as f64 / self.n as f64;
        RecognitionReport {
            n_probes,
            n_evaluated: self.n,
            n_excluded: n_probes - self.n,
            top1: rate(self.top1),
            top5: rate(self.top5),
            knn: ks
                .iter()
                .zip(&self.knn)
                .map(|(&k, &hits)| KnnAccuracy {
                    k,
                    accuracy: rate(hits),
                })
                .collect(),
            open_set: None,
        }
    }
}

/// Leave-one-out k-NN over an `n x n` distance matrix: every image is a probe against all the
/// others (the diagonal is never a neighbour). See the module doc for the definitions.
pub fn knn_leave_one_out(
    dist: &[f32],
    n: usize,
    labels: &[u32],
    ks: &[usize],
) -> Result<RecognitionReport, EvalError> {
    check_matrix(dist, n, n, "n * n")?;
    check_len("labels", labels.len(), "the matrix rows", n)?;
    check_ks(ks)?;

    let mut count: HashMap<u32, usize> = HashMap::new();
    for &l in labels {
        *count.entry(l).or_default() += 1;
    }

    let m = neighbours_needed(ks);
    let mut tally = Tally::new(ks);
    let mut order = Vec::with_capacity(n);
    let mut neighbour_labels = Vec::with_capacity(m);
    for (i, &truth) in labels.iter().enumerate() {
        if count[&truth] < 2 {
            continue;
        }
        nearest(&dist[i * n..(i + 1) * n], Some(i), m, &mut order);
        neighbour_labels.clear();
        neighbour_labels.extend(order.iter().map(|&j| labels[j]));
        tally.add(truth, &neighbour_labels, ks);
    }

    if tally.n == 0 {
        return Err(EvalError::NoEvaluableProbes {
            n_probes: n,
            reason: "every identity has a single image",
        });
    }
    Ok(tally.report(ks, n))
}

/// k-NN of probes against a gallery from the `n_probe x n_gallery` distance matrix, with an
/// optional open-set threshold. See the module doc for the definitions.
pub fn knn_gallery(
    dist_probe_by_gallery: &[f32],
    n_probe: usize,
    n_gallery: usize,
    probe_labels: &[u32],
    gallery_labels: &[u32],
    ks: &[usize],
    open_set_threshold: Option<f32>,
) -> Result<RecognitionReport, EvalError> {
    let dist = dist_probe_by_gallery;
    check_matrix(dist, n_probe, n_gallery, "n_probe * n_gallery")?;
    check_len(
        "probe_labels",
        probe_labels.len(),
        "the matrix rows",
        n_probe,
    )?;
    check_len(
        "gallery_labels",
        gallery_labels.len(),
        "the matrix columns",
        n_gallery,
    )?;
    check_ks(ks)?;
    if let Some(t) = open_set_threshold.filter(|t| !t.is_finite()) {
        return Err(EvalError::InvalidOption {
            name: "open_set_threshold",
            value: t.to_string(),
            reason: "a distance threshold must be finite",
        });
    }

    let in_gallery: HashSet<u32> = gallery_labels.iter().copied().collect();
    let m = neighbours_needed(ks);
    let mut tally = Tally::new(ks);
    let mut open = OpenSetTally::default();
    let mut order = Vec::with_capacity(n_gallery);
    let mut neighbour_labels = Vec::with_capacity(m);
    for (p, &truth) in probe_labels.iter().enumerate() {
        let row = &dist[p * n_gallery..(p + 1) * n_gallery];
        nearest(row, None, m, &mut order);
        neighbour_labels.clear();
        neighbour_labels.extend(order.iter().map(|&g| gallery_labels[g]));

        let known = in_gallery.contains(&truth);
        if let Some(t) = open_set_threshold {
            let accepted = row[order[0]] <= t;
            open.add(known, accepted, neighbour_labels[0] == truth);
        }
        if known {
            tally.add(truth, &neighbour_labels, ks);
        }
    }

    if tally.n == 0 {
        return Err(EvalError::NoEvaluableProbes {
            n_probes: n_probe,
            reason: "no probe's identity is in the gallery",
        });
    }
    let mut report = tally.report(ks, n_probe);
    report.open_set = open_set_threshold.map(|t| open.report(t));
    Ok(report)
}

#[derive(Default)]
struct OpenSetTally {
    known: usize,
    unknown: usize,
    unknown_rejected: usize,
    known_rejected: usize,
    known_accepted_correct: usize,
}

impl OpenSetTally {
    fn add(&mut self, known: bool, accepted: bool, top1_correct: bool) {
        if !known {
            self.unknown += 1;
            self.unknown_rejected += usize::from(!accepted);
        } else if !accepted {
            self.known += 1;
            self.known_rejected += 1;
        } else {
            self.known += 1;
            self.known_accepted_correct += usize::from(top1_correct);
        }
    }

    fn report(&self, threshold: f32) -> OpenSetReport {
        let share = |num: usize, den: usize| (den > 0).then(|| num as f64 / den as f64);
        OpenSetReport {
            threshold,
            n_known: self.known,
            n_unknown: self.unknown,
            unknown_rejected: share(self.unknown_rejected, self.unknown),
            known_false_rejected: share(self.known_rejected, self.known),
            top1_known_accepted: share(
                self.known_accepted_correct,
                self.known - self.known_rejected,
            ),
        }
    }
}

/// The winning label of the votes, nearest first; ties go to the label seen first.
fn majority_vote(labels: &[u32]) -> Option<u32> {
    // Kept in order of first appearance, so a strict `>` below keeps the nearest on ties.
    let mut votes: Vec<(u32, usize)> = Vec::new();
    for &l in labels {
        match votes.iter_mut().find(|(v, _)| *v == l) {
            Some((_, c)) => *c += 1,
            None => votes.push((l, 1)),
        }
    }
    let mut best: Option<(u32, usize)> = None;
    for &(l, c) in &votes {
        if best.is_none_or(|(_, bc)| c > bc) {
            best = Some((l, c));
        }
    }
    best.map(|(l, _)| l)
}

/// Fills `order` with the indices of the `m` smallest entries of `row` (never `skip`), nearest
/// first, equal distances by index.
fn nearest(row: &[f32], skip: Option<usize>, m: usize, order: &mut Vec<usize>) {
    let by_distance =
        |&a: &usize, &b: &usize| -> Ordering { row[a].total_cmp(&row[b]).then(a.cmp(&b)) };
    order.clear();
    order.extend((0..row.len()).filter(|&j| Some(j) != skip));
    if m < order.len() {
        order.select_nth_unstable_by(m - 1, by_distance);
        order.truncate(m);
    }
    order.sort_unstable_by(by_distance);
}

fn neighbours_needed(ks: &[usize]) -> usize {
    ks.iter().copied().chain([5]).max().unwrap_or(5)
}

fn check_matrix(
    dist: &[f32],
    rows: usize,
    cols: usize,
    shape: &'static str,
) -> Result<(), EvalError> {
    if rows.checked_mul(cols) != Some(dist.len()) {
        return Err(EvalError::LengthMismatch {
            left: "the distance matrix",
            left_len: dist.len(),
            right: shape,
            right_len: rows.saturating_mul(cols),
        });
    }
    if rows == 0 || cols == 0 {
        return Err(EvalError::Empty {
            what: "the distance matrix",
        });
    }
    if let Some(index) = dist.iter().position(|d| !d.is_finite()) {
        return Err(EvalError::NonFiniteEntry {
            what: "distance matrix",
            row: index / cols,
            col: index % cols,
            value: dist[index],
        });
    }
    Ok(())
}

fn check_len(
    what: &'static str,
    len: usize,
    axis: &'static str,
    want: usize,
) -> Result<(), EvalError> {
    if len != want {
        return Err(EvalError::LengthMismatch {
            left: what,
            left_len: len,
            right: axis,
            right_len: want,
        });
    }
    Ok(())
}

fn check_ks(ks: &[usize]) -> Result<(), EvalError> {
    if ks.contains(&0) {
        return Err(EvalError::InvalidOption {
            name: "ks",
            value: format!("{ks:?}"),
            reason: "every k must be at least 1",
        });
    }
    Ok(())
}
