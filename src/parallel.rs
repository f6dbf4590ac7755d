//! Running weighed items of work on every core without holding too much at once; used by
//! routing (files' pieces) and by the run (buckets of dealers). Knows nothing of either.

use std::sync::{Condvar, Mutex};

use crate::error::Result;

/// Runs `work` on every item, largest first, on as many threads as rayon has, but starts an
/// item only while the items in work weigh at most `limit` together: a large bucket of
/// dealers is processed alone (with its inner steps still in parallel) instead of beside
/// another. Returns the results in item order; stops at the first error.
pub fn in_parallel<T: Send>(
    weights: &[u64],
    limit: u64,
    work: impl Fn(usize) -> Result<T> + Sync,
) -> Result<Vec<T>> {
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by_key(|&b| std::cmp::Reverse(weights[b]));
    // (items not yet started, largest last; weight in work; results)
    let state = Mutex::new((
        order.into_iter().rev().collect::<Vec<_>>(),
        0u64,
        Vec::new(),
    ));
    let turn = Condvar::new();
    let lock = || {
        state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    std::thread::scope(|s| {
        for _ in 0..rayon::current_num_threads() {
            s.spawn(|| loop {
                let b = {
                    let mut st = lock();
                    loop {
                        let Some(&b) = st.0.last() else { return };
                        if st.1 == 0 || st.1.saturating_add(weights[b]) <= limit {
                            st.0.pop();
                            st.1 += weights[b];
                            break b;
                        }
                        st = turn
                            .wait(st)
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                    }
                };
                let r = work(b);
                let mut st = lock();
                st.1 -= weights[b];
                if r.is_err() {
                    st.0.clear();
                }
                st.2.push((b, r));
                turn.notify_all();
            });
        }
    });
    let mut done = state
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .2;
    done.sort_by_key(|(b, _)| *b);
    done.into_iter().map(|(_, r)| r).collect()
}
