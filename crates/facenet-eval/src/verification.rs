//! Pair verification: is this pair of images the same person?
//!
//! Input: one squared-L2 distance per pair, whether the pair is *matched* (same identity), and
//! the cross-validation fold of the pair (0-based). A threshold `t` *accepts* a pair as "same"
//! when `distance <= t`. Thresholds are f64 so that a midpoint of two f32 distances lies strictly
//! between them.
//!
//! Definitions (SPEC section 4):
//! - **Candidate thresholds** of a set of pairs: `min - 1` (accepts none), the midpoints between
//!   consecutive sorted distinct distances, and `max` (accepts all).
//! - **accuracy**: for each fold, the candidate threshold of the *other* folds with the highest
//!   accuracy on those folds (ties go to the smallest, stricter threshold) is applied to the
//!   held-out fold. `accuracy` is the mean of the fold accuracies, `accuracy_std` their
//!   *population* standard deviation (divided by the number of folds, numpy's default, as the
//!   FaceNet and LFW scripts report it), `accuracy_sem = accuracy_std / sqrt(folds)`, and
//!   `threshold` the mean of the chosen thresholds.
//! - **auc**: the exact ROC AUC over all pairs, `P(d_matched < d_mismatched)` with ties counted
//!   half, from the Mann-Whitney rank sum with average ranks for tied distances.
//! - **roc**: over all pairs, the point `(far, tar)` at `t = min - 1` and at every distinct
//!   distance `t`: `far` = accepted mismatched / mismatched, `tar` = accepted matched / matched.
//! - **eer**: where `far = frr = 1 - tar`, interpolated linearly along the ROC segment on which
//!   `far - frr` changes sign.
//! - **VAL at FAR** (FaceNet paper, section 5.1): on the training folds, FAR is evaluated at the
//!   candidate thresholds, where it is non-decreasing; the threshold for the target FAR is
//!   interpolated linearly (threshold over FAR) between the largest candidate with
//!   `far <= target` (the end of a plateau, so with no false accepts below the target it is the
//!   largest threshold with FAR 0) and the next candidate. Applied to the held-out fold it gives
//!   VAL (accepted matched / matched) and the FAR achieved; both are means over folds.
//!
//! Cost: one sort of all pairs, O(n log n); each fold is then a linear sweep over that order.

use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::EvalError;

/// One point of the ROC curve: pairs with `distance <= threshold` are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RocPoint {
    pub threshold: f64,
    /// False accept rate: accepted mismatched pairs / mismatched pairs.
    pub far: f64,
    /// True accept rate: accepted matched pairs / matched pairs.
    pub tar: f64,
}

/// VAL at one FAR target, as means (and the VAL spread) over the held-out folds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ValAtFar {
    pub target_far: f64,
    /// Mean over folds of the held-out true accept rate.
    pub val: f64,
    /// Population standard deviation of the fold VALs.
    pub val_std: f64,
    /// Mean over folds of the held-out false accept rate actually achieved.
    pub far: f64,
    /// Mean of the thresholds interpolated on the training folds.
    pub threshold: f64,
}

/// Everything [`evaluate_verification`] measures. JSON names follow SPEC section 5.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerificationReport {
    pub n_pairs: usize,
    pub n_matched: usize,
    pub n_mismatched: usize,
    pub n_folds: usize,
    /// Mean held-out accuracy over folds.
    pub accuracy: f64,
    /// Population standard deviation of the fold accuracies.
    pub accuracy_std: f64,
    /// `accuracy_std / sqrt(n_folds)`.
    pub accuracy_sem: f64,
    pub fold_accuracies: Vec<f64>,
    /// Mean of the thresholds chosen on the training folds.
    pub threshold: f64,
    pub fold_thresholds: Vec<f64>,
    pub auc: f64,
    pub eer: f64,
    #[serde(rename = "val_at_far_1e-3")]
    pub val_at_far_1e3: f64,
    #[serde(rename = "val_std_at_far_1e-3")]
    pub val_std_at_far_1e3: f64,
    #[serde(rename = "far_achieved_at_far_1e-3")]
    pub far_achieved_1e3: f64,
    #[serde(rename = "val_at_far_1e-2")]
    pub val_at_far_1e2: f64,
    #[serde(rename = "val_std_at_far_1e-2")]
    pub val_std_at_far_1e2: f64,
    #[serde(rename = "far_achieved_at_far_1e-2")]
    pub far_achieved_1e2: f64,
    /// The ROC curve over all pairs, by increasing threshold.
    pub roc: Vec<RocPoint>,
}

/// Pairs sharing one distance value, in the sorted order.
#[derive(Debug, Clone, Copy)]
struct Group {
    distance: f32,
    matched: usize,
    mismatched: usize,
}

/// Measures verification on pairs with precomputed squared-L2 distances; see the module doc for
/// every definition. `folds[i]` is the 0-based fold of pair `i`, below `n_folds`.
pub fn evaluate_verification(
    distances: &[f32],
    matched: &[bool],
    folds: &[usize],
    n_folds: usize,
) -> Result<VerificationReport, EvalError> {
    check_pairs(distances, matched, folds, n_folds)?;
    let order = sorted_order(distances);

    let mut fold_accuracies = Vec::with_capacity(n_folds);
    let mut fold_thresholds = Vec::with_capacity(n_folds);
    for fold in 0..n_folds {
        let train = groups(&order, distances, matched, |i| folds[i] != fold);
        let t = best_accuracy_threshold(&train);
        let (accepted_matched, accepted_mismatched, n_matched, n_mismatched) =
            accept_counts(distances, matched, |i| folds[i] == fold, t);
        let correct = accepted_matched + (n_mismatched - accepted_mismatched);
        fold_accuracies.push(correct as f64 / (n_matched + n_mismatched) as f64);
        fold_thresholds.push(t);
    }
    let (accuracy, accuracy_std) = mean_and_population_std(&fold_accuracies);

    let all = groups(&order, distances, matched, |_| true);
    let roc = roc_points(&all);
    let val3 = val_at_far_sorted(&order, distances, matched, folds, n_folds, 1e-3);
    let val2 = val_at_far_sorted(&order, distances, matched, folds, n_folds, 1e-2);
    let n_matched = matched.iter().filter(|&&m| m).count();

    Ok(VerificationReport {
        n_pairs: distances.len(),
        n_matched,
        n_mismatched: distances.len() - n_matched,
        n_folds,
        accuracy,
        accuracy_std,
        accuracy_sem: accuracy_std / (n_folds as f64).sqrt(),
        fold_accuracies,
        threshold: fold_thresholds.iter().sum::<f64>() / n_folds as f64,
        fold_thresholds,
        auc: auc_from_ranks(&all),
        eer: eer(&roc),
        val_at_far_1e3: val3.val,
        val_std_at_far_1e3: val3.val_std,
        far_achieved_1e3: val3.far,
        val_at_far_1e2: val2.val,
        val_std_at_far_1e2: val2.val_std,
        far_achieved_1e2: val2.far,
        roc,
    })
}

/// VAL at any FAR target in (0, 1), with the same fold protocol as [`evaluate_verification`].
pub fn val_at_far(
    distances: &[f32],
    matched: &[bool],
    folds: &[usize],
    n_folds: usize,
    target_far: f64,
) -> Result<ValAtFar, EvalError> {
    if !(target_far > 0.0 && target_far < 1.0) {
        return Err(EvalError::InvalidOption {
            name: "target_far",
            value: target_far.to_string(),
            reason: "a false accept rate target must lie strictly between 0 and 1",
        });
    }
    check_pairs(distances, matched, folds, n_folds)?;
    let order = sorted_order(distances);
    Ok(val_at_far_sorted(
        &order, distances, matched, folds, n_folds, target_far,
    ))
}

fn val_at_far_sorted(
    order: &[usize],
    distances: &[f32],
    matched: &[bool],
    folds: &[usize],
    n_folds: usize,
    target_far: f64,
) -> ValAtFar {
    let mut vals = Vec::with_capacity(n_folds);
    let mut fars = Vec::with_capacity(n_folds);
    let mut thresholds = Vec::with_capacity(n_folds);
    for fold in 0..n_folds {
        let train = groups(order, distances, matched, |i| folds[i] != fold);
        let t = threshold_at_far(&train, target_far);
        let (accepted_matched, accepted_mismatched, n_matched, n_mismatched) =
            accept_counts(distances, matched, |i| folds[i] == fold, t);
        vals.push(accepted_matched as f64 / n_matched as f64);
        fars.push(accepted_mismatched as f64 / n_mismatched as f64);
        thresholds.push(t);
    }
    let (val, val_std) = mean_and_population_std(&vals);
    ValAtFar {
        target_far,
        val,
        val_std,
        far: fars.iter().sum::<f64>() / n_folds as f64,
        threshold: thresholds.iter().sum::<f64>() / n_folds as f64,
    }
}

/// Rejects every input on which a measure would be undefined, naming the value at fault.
fn check_pairs(
    distances: &[f32],
    matched: &[bool],
    folds: &[usize],
    n_folds: usize,
) -> Result<(), EvalError> {
    for (right, right_len) in [("matched", matched.len()), ("folds", folds.len())] {
        if right_len != distances.len() {
            return Err(EvalError::LengthMismatch {
                left: "distances",
                left_len: distances.len(),
                right,
                right_len,
            });
        }
    }
    if distances.is_empty() {
        return Err(EvalError::Empty { what: "distances" });
    }
    if n_folds < 2 {
        return Err(EvalError::TooFewFolds { n_folds });
    }
    if let Some(index) = distances.iter().position(|d| !d.is_finite()) {
        return Err(EvalError::NonFinite {
            what: "distance",
            index,
            value: distances[index],
        });
    }
    if let Some(index) = folds.iter().position(|&f| f >= n_folds) {
        return Err(EvalError::FoldOutOfRange {
            index,
            fold: folds[index],
            n_folds,
        });
    }

    let n_pairs = distances.len();
    let n_matched = matched.iter().filter(|&&m| m).count();
    if n_matched == 0 {
        return Err(EvalError::OneSidedPairs {
            n_pairs,
            missing: "matched",
        });
    }
    if n_matched == n_pairs {
        return Err(EvalError::OneSidedPairs {
            n_pairs,
            missing: "mismatched",
        });
    }

    // Every held-out fold needs both kinds, or its accuracy, VAL or FAR has no denominator.
    let mut per_fold = vec![(0usize, 0usize); n_folds];
    for (&f, &m) in folds.iter().zip(matched) {
        if m {
            per_fold[f].0 += 1;
        } else {
            per_fold[f].1 += 1;
        }
    }
    for (fold, &(m, mm)) in per_fold.iter().enumerate() {
        if m == 0 {
            return Err(EvalError::FoldMissingClass {
                fold,
                missing: "matched",
            });
        }
        if mm == 0 {
            return Err(EvalError::FoldMissingClass {
                fold,
                missing: "mismatched",
            });
        }
    }
    Ok(())
}

/// Pair indices by increasing distance; equal distances keep index order, so runs are stable.
fn sorted_order(distances: &[f32]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..distances.len()).collect();
    order.sort_by(|&a, &b| distances[a].total_cmp(&distances[b]));
    order
}

/// Collapses the kept pairs of the sorted order into runs of one distance value.
fn groups(
    order: &[usize],
    distances: &[f32],
    matched: &[bool],
    keep: impl Fn(usize) -> bool,
) -> Vec<Group> {
    let mut out: Vec<Group> = Vec::new();
    for &i in order.iter().filter(|&&i| keep(i)) {
        let d = distances[i];
        // -0.0 and 0.0 compare equal here, as they do for the `<=` acceptance test.
        let same_run = out.last().is_some_and(|g| g.distance == d);
        if !same_run {
            out.push(Group {
                distance: d,
                matched: 0,
                mismatched: 0,
            });
        }
        let g = out.last_mut().expect("a run was just pushed");
        if matched[i] {
            g.matched += 1;
        } else {
            g.mismatched += 1;
        }
    }
    out
}

/// The candidate threshold that accepts runs `0..=i`: the midpoint to the next run, or the last
/// distance itself when there is none.
fn candidate_after(groups: &[Group], i: usize) -> f64 {
    let d = f64::from(groups[i].distance);
    match groups.get(i + 1) {
        Some(next) => (d + f64::from(next.distance)) / 2.0,
        None => d,
    }
}

/// The candidate threshold with the highest accuracy over `groups`; ties go to the smallest.
fn best_accuracy_threshold(groups: &[Group]) -> f64 {
    let n_mismatched: usize = groups.iter().map(|g| g.mismatched).sum();
    let (mut true_accepts, mut true_rejects) = (0usize, n_mismatched);
    let mut best_correct = true_rejects;
    let mut best_t = f64::from(groups[0].distance) - 1.0;

    for (i, g) in groups.iter().enumerate() {
        true_accepts += g.matched;
        true_rejects -= g.mismatched;
        let t = candidate_after(groups, i);
        if true_accepts + true_rejects > best_correct {
            best_correct = true_accepts + true_rejects;
            best_t = t;
        }
    }
    best_t
}

/// The threshold whose FAR on `groups` is `target`, interpolated as the module doc says.
fn threshold_at_far(groups: &[Group], target: f64) -> f64 {
    let n_mismatched: usize = groups.iter().map(|g| g.mismatched).sum();
    let (mut lo_far, mut lo_t) = (0.0, f64::from(groups[0].distance) - 1.0);
    let mut false_accepts = 0usize;

    for (i, g) in groups.iter().enumerate() {
        false_accepts += g.mismatched;
        let far = false_accepts as f64 / n_mismatched as f64;
        let t = candidate_after(groups, i);
        if far <= target {
            (lo_far, lo_t) = (far, t);
            continue;
        }
        return lo_t + (target - lo_far) / (far - lo_far) * (t - lo_t);
    }
    lo_t
}

/// (accepted matched, accepted mismatched, matched, mismatched) among the pairs `keep` selects.
fn accept_counts(
    distances: &[f32],
    matched: &[bool],
    keep: impl Fn(usize) -> bool,
    t: f64,
) -> (usize, usize, usize, usize) {
    let mut counts = (0, 0, 0, 0);
    for (i, (&d, &m)) in distances.iter().zip(matched).enumerate() {
        if !keep(i) {
            continue;
        }
        let accepted = usize::from(f64::from(d) <= t);
        if m {
            counts.0 += accepted;
            counts.2 += 1;
        } else {
            counts.1 += accepted;
            counts.3 += 1;
        }
    }
    counts
}

fn roc_points(groups: &[Group]) -> Vec<RocPoint> {
    let n_matched: usize = groups.iter().map(|g| g.matched).sum();
    let n_mismatched: usize = groups.iter().map(|g| g.mismatched).sum();
    let mut roc = Vec::with_capacity(groups.len() + 1);
    roc.push(RocPoint {
        threshold: f64::from(groups[0].distance) - 1.0,
        far: 0.0,
        tar: 0.0,
    });

    let (mut true_accepts, mut false_accepts) = (0usize, 0usize);
    for g in groups {
        true_accepts += g.matched;
        false_accepts += g.mismatched;
        roc.push(RocPoint {
            threshold: f64::from(g.distance),
            far: false_accepts as f64 / n_mismatched as f64,
            tar: true_accepts as f64 / n_matched as f64,
        });
    }
    roc
}

/// Mann-Whitney: with ascending average ranks, the mismatched rank sum less its minimum counts
/// the (matched, mismatched) pairs ordered correctly, ties counted half.
fn auc_from_ranks(groups: &[Group]) -> f64 {
    let n_matched: usize = groups.iter().map(|g| g.matched).sum();
    let n_mismatched: usize = groups.iter().map(|g| g.mismatched).sum();
    let mut rank_sum_mismatched = 0.0f64;
    let mut ranks_before = 0usize;
    for g in groups {
        let size = g.matched + g.mismatched;
        let average_rank = ranks_before as f64 + (size as f64 + 1.0) / 2.0;
        rank_sum_mismatched += g.mismatched as f64 * average_rank;
        ranks_before += size;
    }
    let nm = n_mismatched as f64;
    let u = rank_sum_mismatched - nm * (nm + 1.0) / 2.0;
    u / (n_matched as f64 * nm)
}

/// The ROC starts at far - frr = -1 and ends at +1, so a sign change always exists.
fn eer(roc: &[RocPoint]) -> f64 {
    let gap = |p: &RocPoint| p.far - (1.0 - p.tar);
    for pair in roc.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if gap(b) >= 0.0 {
            let s = -gap(a) / (gap(b) - gap(a));
            return a.far + s * (b.far - a.far);
        }
    }
    unreachable!("the last ROC point has far = 1 and tar = 1, so its gap is 1")
}

fn mean_and_population_std(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// Writes the ROC curve as a standalone SVG: FAR on a log axis from 1e-4 to 1, TAR linear,
/// with the AUC and accuracy in the title. Points with FAR below 1e-4 sit on the left edge.
pub fn write_roc_svg(
    report: &VerificationReport,
    path: impl AsRef<Path>,
    title: &str,
) -> io::Result<()> {
    std::fs::write(path, roc_svg(report, title))
}

/// The SVG text that [`write_roc_svg`] writes.
pub fn roc_svg(report: &VerificationReport, title: &str) -> String {
    use std::fmt::Write;

    const W: f64 = 640.0;
    const H: f64 = 480.0;
    const LEFT: f64 = 72.0;
    const RIGHT: f64 = 24.0;
    const TOP: f64 = 56.0;
    const BOTTOM: f64 = 64.0;
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let x_of = |far: f64| LEFT + (far.max(1e-4).log10() + 4.0) / 4.0 * pw;
    let y_of = |tar: f64| TOP + (1.0 - tar) * ph;

    let far_label = "false accept rate (FAR, log scale)";
    let tar_label = "true accept rate (TAR)";

    let mut s = String::new();
    // Writing to a String cannot fail; the results are ignored for that reason.
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" "#
    );
    let _ = writeln!(
        s,
        r#"     viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let heading = format!(
        "{} (AUC {:.4}, accuracy {:.4} \u{b1} {:.4})",
        title, report.auc, report.accuracy, report.accuracy_std
    );
    let _ = writeln!(
        s,
        r#"<text x="{}" y="28" text-anchor="middle" font-size="15">{}</text>"#,
        W / 2.0,
        xml_escape(&heading)
    );

    for (decade, label) in [
        (-4, "1e-4"),
        (-3, "1e-3"),
        (-2, "1e-2"),
        (-1, "0.1"),
        (0, "1"),
    ] {
        let x = x_of(10f64.powi(decade));
        let _ = writeln!(
            s,
            "<line x1=\"{x:.1}\" y1=\"{TOP}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#ddd\"/>\n\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{label}</text>",
            TOP + ph,
            TOP + ph + 18.0
        );
    }
    for step in 0..=5 {
        let tar = f64::from(step) / 5.0;
        let y = y_of(tar);
        let _ = writeln!(
            s,
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/>\n\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{tar:.1}</text>",
            LEFT + pw,
            LEFT - 8.0,
            y + 4.0
        );
    }
    let _ = writeln!(
        s,
        r#"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="black"/>"#
    );
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        LEFT + pw / 2.0,
        H - 18.0,
        far_label
    );
    let _ = writeln!(
        s,
        r#"<text transform="translate(20 {:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
        TOP + ph / 2.0,
        tar_label
    );

    let _ = write!(
        s,
        "<polyline fill=\"none\" stroke=\"#1f5fbf\" stroke-width=\"2\" points=\""
    );
    // Thousands of ROC points land on a few hundred pixels; drop those under half a pixel away.
    let mut last: Option<(f64, f64)> = None;
    for (i, p) in report.roc.iter().enumerate() {
        let (x, y) = (x_of(p.far), y_of(p.tar));
        let is_last = i + 1 == report.roc.len();
        let near = last.is_some_and(|(lx, ly)| (x - lx).abs() < 0.5 && (y - ly).abs() < 0.5);
        if near && !is_last {
            continue;
        }
        let _ = write!(s, "{x:.1},{y:.1} ");
        last = Some((x, y));
    }
    let _ = writeln!(s, "\"/>");
    let _ = writeln!(s, "</svg>");
    s
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
