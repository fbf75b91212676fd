//! How the process's allocator holds memory.
//!
//! glibc gives threads that allocate at once their own malloc arenas (up to 8
//! per core), and memory freed in one arena is not reused by another: a worker
//! whose reading, validating and encoding threads take turns with large
//! buffers ends up holding several partly empty arenas. Two arenas took a
//! worker's peak RSS from 532 MiB to 415 MiB on `floe-bench-scale` (150M rows,
//! one worker), and the run from 265 s to 229 s.

/// Arenas when `MALLOC_ARENA_MAX` does not say.
const DEFAULT_ARENAS: i32 = 2;

/// Caps glibc's malloc arenas at the environment's `MALLOC_ARENA_MAX`, else at
/// [`DEFAULT_ARENAS`]. Call it before threads start.
/// Elsewhere than glibc on Linux it does nothing.
pub fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let arenas = std::env::var("MALLOC_ARENA_MAX")
            .ok()
            .and_then(|v| v.trim().parse::<i32>().ok())
            .filter(|n| *n > 0)
            .unwrap_or(DEFAULT_ARENAS);
        // SAFETY: mallopt sets an allocator parameter; nothing else allocates
        // concurrently before the process starts its threads.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, arenas);
        }
    }
}
