// The worker threads behind atx's parallel loops (Tensor/Threads.swift).
#ifndef ATX_POOL_H
#define ATX_POOL_H

/// Calls fn(ctx, k) once for every chunk k in [0, chunks), on the calling thread and up to
/// threads − 1 workers, and returns when all calls have returned. Which thread runs a chunk, and
/// in what order, varies; the chunks themselves do not. A call made from inside a chunk, or while
/// another thread's job holds the workers, runs its chunks in order on the calling thread.
void atx_pool_run(int threads, long chunks, void (*fn)(void *ctx, long chunk), void *ctx);

#endif
