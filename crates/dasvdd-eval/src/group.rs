//! Aggregation of per-row scores into per-group scores, e.g. MIMII frames into clips.

use std::collections::HashMap;
use std::hash::Hash;

use crate::error::{EvalError, Result};
use crate::label::{for_each_checked, Label};

/// Averages the scores of the rows of each group and gives each group its rows' label.
///
/// `scores`, `groups` and `labels` are parallel (one entry per row). Groups are returned in
/// the order of their first row; a group's score is the mean of its rows' scores and its
/// label is the (common) label of its rows. Used to score MIMII clips from their frames.
///
/// # Errors
/// [`EvalError::LengthMismatch`] if `groups` or `labels` differ in length from `scores`,
/// [`EvalError::Empty`], [`EvalError::NonFiniteScore`], [`EvalError::InvalidLabel`], and
/// [`EvalError::MixedGroupLabels`] if a group has rows labelled differently.
pub fn mean_by_group<G: Eq + Hash, L: Label>(
    scores: &[f64],
    groups: &[G],
    labels: &[L],
) -> Result<(Vec<f64>, Vec<L>)> {
    if groups.len() != scores.len() {
        return Err(EvalError::LengthMismatch {
            what: "groups",
            scores: scores.len(),
            other: groups.len(),
        });
    }
    for_each_checked(scores, labels, |_, _| {})?;

    // Per group, in order of first appearance: (first row, sum, count).
    let mut index_of: HashMap<&G, usize> = HashMap::new();
    let mut acc: Vec<(usize, f64, usize)> = Vec::new();
    for (row, group) in groups.iter().enumerate() {
        let next = acc.len();
        let g = *index_of.entry(group).or_insert(next);
        if g == next {
            acc.push((row, 0.0, 0));
        }
        let (first_row, sum, count) = &mut acc[g];
        if labels[row].is_anomaly() != labels[*first_row].is_anomaly() {
            return Err(EvalError::MixedGroupLabels {
                first_row: *first_row,
                row,
            });
        }
        *sum += scores[row];
        *count += 1;
    }
    let mut means: Vec<f64> = acc.iter().map(|&(_, sum, n)| sum / n as f64).collect();
    if means.iter().any(|m| !m.is_finite()) {
        // A sum overflowed (scores near f64::MAX): those groups again, each score over the
        // group's size first, so that the mean of finite scores stays finite.
        for m in means.iter_mut().filter(|m| !m.is_finite()) {
            *m = 0.0;
        }
        for (row, group) in groups.iter().enumerate() {
            let g = index_of[group];
            if acc[g].1.is_finite() {
                continue;
            }
            means[g] += scores[row] / acc[g].2 as f64;
        }
    }
    Ok(acc
        .into_iter()
        .zip(means)
        .map(|((first_row, _, _), mean)| (mean, labels[first_row]))
        .unzip())
}
