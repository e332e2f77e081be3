//! Training's own rayon pool. The studio's preview runs on rayon's global pool; a run that used
//! it too would queue its batches in front of the preview's frames. Training's parallel work
//! (data preparation, triggers, the model's kernels and the GEMM inside them, evaluation) runs
//! inside [`TrainPool::install`] instead, on threads named `train-{i}`.

use anyhow::Context;

/// How many threads the machine has (1 when it cannot tell).
pub fn all_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The studio's default: every core but one, which stays with the UI and the preview.
pub fn studio_threads() -> usize {
    all_cores().saturating_sub(1).max(1)
}

/// Names the global pool's threads `rayon-{i}` (for profilers and panic messages). Call once at
/// startup, before anything uses rayon; later calls fail because the pool already exists.
pub fn name_global_pool() -> Result<(), rayon::ThreadPoolBuildError> {
    rayon::ThreadPoolBuilder::new()
        .thread_name(|i| format!("rayon-{i}"))
        .build_global()
}

/// A run's pool: `threads` workers (`None`: one per core), named `train-{i}`.
pub fn training_pool(threads: Option<usize>) -> anyhow::Result<rayon::ThreadPool> {
    let n = match threads {
        None => all_cores(),
        Some(0) => anyhow::bail!("threads: at least 1 is needed"),
        Some(n) => n,
    };
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .thread_name(|i| format!("train-{i}"))
        .build()
        .context("cannot start the training threads")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;

    #[test]
    fn the_pool_has_the_asked_size_and_named_threads() {
        let pool = training_pool(Some(3)).expect("pool");
        assert_eq!(pool.current_num_threads(), 3);
        let names: Vec<String> = pool.install(|| {
            assert_eq!(rayon::current_num_threads(), 3, "par_iter sees this pool");
            (0..64)
                .into_par_iter()
                .map(|_| std::thread::current().name().unwrap_or("").to_string())
                .collect()
        });
        assert!(
            names.iter().all(|n| n.starts_with("train-")),
            "training work runs on the train pool: {names:?}"
        );
        let pool = training_pool(None).expect("pool");
        assert_eq!(pool.current_num_threads(), all_cores());
        assert!(training_pool(Some(0)).is_err());
        assert!(studio_threads() >= 1 && studio_threads() <= all_cores());
    }
}
