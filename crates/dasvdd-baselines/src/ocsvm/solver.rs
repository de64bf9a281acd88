//! libsvm's SMO `Solver` (Chang and Lin, `svm.cpp`) specialised to the one-class problem
//! `min 1/2 a^T Q a  s.t.  0 <= a_i <= 1, sum a_i = nu l` (every label +1, linear term 0,
//! upper bound 1): second-order working-set selection (Fan, Chen and Lin, 2005), shrinking with
//! gradient reconstruction, stopping when the maximal violation is below `eps`, and `rho` from
//! the free variables. The code follows libsvm step by step so that it reaches the same
//! solution.

use super::kernel::KernelMatrix;

/// Replacement for a non-positive curvature `Q_ii + Q_jj - 2 Q_ij` (libsvm's `TAU`).
const TAU: f64 = 1e-12;

/// Upper bound of every variable in the one-class problem.
const C: f64 = 1.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bound {
    Lower,
    Upper,
    Free,
}

fn bound_of(alpha: f64) -> Bound {
    if alpha >= C {
        Bound::Upper
    } else if alpha <= 0.0 {
        Bound::Lower
    } else {
        Bound::Free
    }
}

/// The solver's result, in the original sample order.
#[derive(Debug, Clone)]
pub(crate) struct Solution {
    pub(crate) alpha: Vec<f64>,
    pub(crate) rho: f64,
    pub(crate) objective: f64,
    pub(crate) iterations: usize,
    /// Whether the iteration limit stopped the solver before the tolerance was met.
    pub(crate) hit_iteration_limit: bool,
}

/// Variables, gradient and active set, all indexed by solver position.
struct State {
    l: usize,
    eps: f64,
    alpha: Vec<f64>,
    bound: Vec<Bound>,
    /// Gradient `Q a` (the linear term is zero).
    g: Vec<f64>,
    /// `sum over a_j at the upper bound of C Q_ij`, used to rebuild the gradient of shrunk
    /// variables.
    g_bar: Vec<f64>,
    /// Sample at each position.
    active_set: Vec<usize>,
    active_size: usize,
    unshrink: bool,
}

impl State {
    fn swap_index(&mut self, q: &mut KernelMatrix<'_>, i: usize, j: usize) {
        q.swap_index(i, j);
        self.alpha.swap(i, j);
        self.bound.swap(i, j);
        self.g.swap(i, j);
        self.g_bar.swap(i, j);
        self.active_set.swap(i, j);
    }

    /// Rebuilds the gradient of the inactive variables from `g_bar` and the free variables.
    fn reconstruct_gradient(&mut self, q: &mut KernelMatrix<'_>) {
        let (l, active) = (self.l, self.active_size);
        if active == l {
            return;
        }
        for j in active..l {
            self.g[j] = self.g_bar[j];
        }
        let nr_free = self.bound[..active]
            .iter()
            .filter(|b| **b == Bound::Free)
            .count();
        if nr_free * l > 2 * active * (l - active) {
            for i in active..l {
                let qi = q.column(i, active);
                let mut add = 0.0;
                for j in 0..active {
                    if self.bound[j] == Bound::Free {
                        add += self.alpha[j] * qi[j];
                    }
                }
                self.g[i] += add;
            }
        } else {
            for i in 0..active {
                if self.bound[i] == Bound::Free {
                    let qi = q.column(i, l);
                    let ai = self.alpha[i];
                    for j in active..l {
                        self.g[j] += ai * qi[j];
                    }
                }
            }
        }
    }

    /// Second-order working-set selection; `None` when the maximal violation is below `eps`.
    fn select_working_set(&self, q: &mut KernelMatrix<'_>) -> Option<(usize, usize)> {
        let active = self.active_size;
        let mut gmax = f64::NEG_INFINITY;
        let mut gmax_idx = None;
        for t in 0..active {
            if self.bound[t] != Bound::Upper && -self.g[t] >= gmax {
                gmax = -self.g[t];
                gmax_idx = Some(t);
            }
        }
        let i = gmax_idx?;
        let qi = q.column(i, active);
        let mut gmax2 = f64::NEG_INFINITY;
        let mut gmin_idx = None;
        let mut obj_diff_min = f64::INFINITY;
        for j in 0..active {
            if self.bound[j] == Bound::Lower {
                continue;
            }
            let gj = self.g[j];
            if gj >= gmax2 {
                gmax2 = gj;
            }
            let grad_diff = gmax + gj;
            if grad_diff > 0.0 {
                // Q_ii = Q_jj = 1 for the RBF kernel.
                let quad = 2.0 - 2.0 * qi[j];
                let obj_diff = -(grad_diff * grad_diff) / if quad > 0.0 { quad } else { TAU };
                if obj_diff <= obj_diff_min {
                    gmin_idx = Some(j);
                    obj_diff_min = obj_diff;
                }
            }
        }
        if gmax + gmax2 < self.eps {
            return None;
        }
        gmin_idx.map(|j| (i, j))
    }

    fn be_shrunk(&self, i: usize, gmax1: f64, gmax2: f64) -> bool {
        match self.bound[i] {
            Bound::Upper => -self.g[i] > gmax1,
            Bound::Lower => self.g[i] > gmax2,
            Bound::Free => false,
        }
    }

    /// Moves variables that are at a bound and unlikely to change behind the active set.
    fn do_shrinking(&mut self, q: &mut KernelMatrix<'_>) {
        let mut gmax1 = f64::NEG_INFINITY;
        let mut gmax2 = f64::NEG_INFINITY;
        for i in 0..self.active_size {
            if self.bound[i] != Bound::Upper {
                gmax1 = gmax1.max(-self.g[i]);
            }
            if self.bound[i] != Bound::Lower {
                gmax2 = gmax2.max(self.g[i]);
            }
        }
        if !self.unshrink && gmax1 + gmax2 <= self.eps * 10.0 {
            self.unshrink = true;
            self.reconstruct_gradient(q);
            self.active_size = self.l;
        }
        let mut i = 0;
        while i < self.active_size {
            if self.be_shrunk(i, gmax1, gmax2) {
                self.active_size -= 1;
                while self.active_size > i {
                    if !self.be_shrunk(self.active_size, gmax1, gmax2) {
                        self.swap_index(q, i, self.active_size);
                        break;
                    }
                    self.active_size -= 1;
                }
            }
            i += 1;
        }
    }

    fn calculate_rho(&self) -> f64 {
        let mut ub = f64::INFINITY;
        let mut lb = f64::NEG_INFINITY;
        let mut sum_free = 0.0;
        let mut nr_free = 0usize;
        for i in 0..self.active_size {
            let g = self.g[i];
            match self.bound[i] {
                Bound::Upper => lb = lb.max(g),
                Bound::Lower => ub = ub.min(g),
                Bound::Free => {
                    nr_free += 1;
                    sum_free += g;
                }
            }
        }
        if nr_free > 0 {
            sum_free / nr_free as f64
        } else {
            (ub + lb) / 2.0
        }
    }

    /// Updates the gradient summary `g_bar` after variable `i` entered or left the upper bound.
    fn update_g_bar(&mut self, q: &mut KernelMatrix<'_>, i: usize, was_upper: bool) {
        let is_upper = self.bound[i] == Bound::Upper;
        if was_upper == is_upper {
            return;
        }
        let sign = if was_upper { -C } else { C };
        let qi = q.column(i, self.l);
        for (gb, &v) in self.g_bar.iter_mut().zip(qi) {
            *gb += sign * v;
        }
    }
}

/// Solves the one-class dual with libsvm's initial point: the first `floor(nu l)` variables at
/// 1, the next at `nu l - floor(nu l)`, the rest at 0 (so that `sum a = nu l`).
pub(crate) fn solve_one_class(
    q: &mut KernelMatrix<'_>,
    nu: f64,
    eps: f64,
    shrinking: bool,
) -> Solution {
    let l = q.len();
    let total = nu * l as f64;
    let n_upper = (total as usize).min(l);
    let mut alpha = vec![0.0; l];
    for a in alpha.iter_mut().take(n_upper) {
        *a = 1.0;
    }
    if n_upper < l {
        alpha[n_upper] = total - n_upper as f64;
    }
    let bound: Vec<Bound> = alpha.iter().map(|&a| bound_of(a)).collect();

    let mut g = vec![0.0; l];
    let mut g_bar = vec![0.0; l];
    for i in 0..l {
        if bound[i] != Bound::Lower {
            let qi = q.column(i, l);
            let ai = alpha[i];
            for (gj, &v) in g.iter_mut().zip(qi) {
                *gj += ai * v;
            }
            if bound[i] == Bound::Upper {
                for (gj, &v) in g_bar.iter_mut().zip(qi) {
                    *gj += C * v;
                }
            }
        }
    }
    let mut st = State {
        l,
        eps,
        alpha,
        bound,
        g,
        g_bar,
        active_set: (0..l).collect(),
        active_size: l,
        unshrink: false,
    };

    let max_iter = 10_000_000usize.max(l.saturating_mul(100));
    let mut counter = l.min(1000) + 1;
    let mut iter = 0;
    while iter < max_iter {
        counter -= 1;
        if counter == 0 {
            counter = l.min(1000);
            if shrinking {
                st.do_shrinking(q);
            }
        }
        let (i, j) = match st.select_working_set(q) {
            Some(pair) => pair,
            None => {
                st.reconstruct_gradient(q);
                st.active_size = l;
                match st.select_working_set(q) {
                    Some(pair) => {
                        counter = 1;
                        pair
                    }
                    None => break,
                }
            }
        };
        iter += 1;

        let active = st.active_size;
        let (qi, qj) = q.column_pair(i, j, active);
        let (old_i, old_j) = (st.alpha[i], st.alpha[j]);
        let quad = {
            let v = 2.0 - 2.0 * qi[j];
            if v <= 0.0 {
                TAU
            } else {
                v
            }
        };
        let delta = (st.g[i] - st.g[j]) / quad;
        let sum = old_i + old_j;
        let (mut ai, mut aj) = (old_i - delta, old_j + delta);
        if sum > C {
            if ai > C {
                ai = C;
                aj = sum - C;
            }
        } else if aj < 0.0 {
            aj = 0.0;
            ai = sum;
        }
        if sum > C {
            if aj > C {
                aj = C;
                ai = sum - C;
            }
        } else if ai < 0.0 {
            ai = 0.0;
            aj = sum;
        }
        st.alpha[i] = ai;
        st.alpha[j] = aj;
        let (dai, daj) = (ai - old_i, aj - old_j);
        for ((gk, &a), &b) in st.g[..active].iter_mut().zip(qi).zip(qj) {
            *gk += a * dai + b * daj;
        }

        let (ui, uj) = (st.bound[i] == Bound::Upper, st.bound[j] == Bound::Upper);
        st.bound[i] = bound_of(ai);
        st.bound[j] = bound_of(aj);
        st.update_g_bar(q, i, ui);
        st.update_g_bar(q, j, uj);
    }

    let hit_iteration_limit = iter >= max_iter;
    if hit_iteration_limit && st.active_size < l {
        st.reconstruct_gradient(q);
        st.active_size = l;
    }
    let rho = st.calculate_rho();
    let objective = st.alpha.iter().zip(&st.g).map(|(a, g)| a * g).sum::<f64>() / 2.0;
    let mut out = vec![0.0; l];
    for (pos, &sample) in st.active_set.iter().enumerate() {
        out[sample] = st.alpha[pos];
    }
    Solution {
        alpha: out,
        rho,
        objective,
        iterations: iter,
        hit_iteration_limit,
    }
}
