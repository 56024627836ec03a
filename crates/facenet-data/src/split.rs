//! Identity-disjoint train / held-out splits.
//!
//! A split is a seeded shuffle of the identity names: the first `held_out` names are held out,
//! the rest train. Both lists are stored in natural order, and the struct serialises so a run
//! can record it in its `config.json` and be repeated exactly.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::dataset::natural_cmp;
use crate::{DataError, Dataset};

/// Which identities train and which are held out for evaluation.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Split {
    pub seed: u64,
    pub train: Vec<String>,
    pub held_out: Vec<String>,
}

impl Split {
    /// Holds out `held_out` identities of `dataset`, drawn with `seed`.
    pub fn new(dataset: &Dataset, held_out: usize, seed: u64) -> Result<Split, DataError> {
        Split::from_names(&dataset.names(), held_out, seed)
    }

    /// As [`Split::new`], for a bare list of identity names (the synthetic set has no folder).
    pub fn from_names(names: &[String], held_out: usize, seed: u64) -> Result<Split, DataError> {
        if held_out == 0 || held_out >= names.len() {
            return Err(DataError::InvalidSplit(format!(
                "cannot hold out {held_out} of {} identities: need at least 1 held out and 1 \
                 for training",
                names.len()
            )));
        }

        // Sort first so the split depends on the set of names, not on the order given.
        let mut shuffled = names.to_vec();
        shuffled.sort_by(|a, b| natural_cmp(a, b));
        shuffled.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));

        let mut train = shuffled.split_off(held_out);
        let mut held = shuffled;
        train.sort_by(|a, b| natural_cmp(a, b));
        held.sort_by(|a, b| natural_cmp(a, b));
        Ok(Split {
            seed,
            train,
            held_out: held,
        })
    }

    /// The training and held-out parts of `dataset`, in that order.
    pub fn apply(&self, dataset: &Dataset) -> Result<(Dataset, Dataset), DataError> {
        Ok((
            dataset.subset(&self.train)?,
            dataset.subset(&self.held_out)?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn names(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("s{i}")).collect()
    }

    #[test]
    fn split_is_deterministic_disjoint_and_complete() {
        let all = names(40);
        let a = Split::from_names(&all, 10, 7).unwrap();
        let b = Split::from_names(&all, 10, 7).unwrap();
        assert_eq!(a, b);
        assert_eq!((a.train.len(), a.held_out.len()), (30, 10));

        let train: HashSet<_> = a.train.iter().collect();
        let held: HashSet<_> = a.held_out.iter().collect();
        assert!(train.is_disjoint(&held));
        assert_eq!(train.union(&held).count(), 40);

        // Another seed gives another split; the input order does not matter.
        let c = Split::from_names(&all, 10, 8).unwrap();
        assert_ne!(a.held_out, c.held_out);
        let mut reversed = all.clone();
        reversed.reverse();
        assert_eq!(Split::from_names(&reversed, 10, 7).unwrap(), a);
    }

    #[test]
    fn split_sizes_are_checked_and_the_split_serialises() {
        let all = names(5);
        for bad in [0, 5, 6] {
            let err = Split::from_names(&all, bad, 1).unwrap_err();
            assert!(
                err.to_string().contains(&format!("hold out {bad} of 5")),
                "{err}"
            );
        }
        let split = Split::from_names(&all, 2, 3).unwrap();
        let json = serde_json::to_string(&split).unwrap();
        assert_eq!(serde_json::from_str::<Split>(&json).unwrap(), split);
    }
}
