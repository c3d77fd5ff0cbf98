// A job is published as one 64-bit ticket, (generation << 32) | next chunk: a thread claims a
// chunk with a compare-and-swap that succeeds only while the job is still the current one. Before
// the next job's fields are written the ticket moves to the new generation, closed (next chunk
// CLOSED), so a worker that read a field of the next job while holding a ticket of the last one
// fails its claim: no thread runs a chunk with another job's function. Workers that finish a
// job spin for half a millisecond watching the ticket before they sleep on a condition
// variable: a training step runs hundreds of parallel loops a few dozen microseconds apart, and
// waking a sleeping thread for each, as libdispatch's concurrentPerform did, cost 15–20 µs a
// loop (eight chunks of 76 µs of work in all took 51–57 µs on two threads; here 46).
#include "atx_pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#if defined(__x86_64__)
#include <immintrin.h>
static inline void relax(void) { _mm_pause(); }
#else
static inline void relax(void) {}
#endif

enum { MAX_WORKERS = 255 };
static const uint64_t CLOSED = 0xffffffffu;
static const double SPIN_SECONDS = 0.5e-3;

static _Atomic uint64_t ticket;                       // (generation << 32) | next chunk
static _Atomic(void (*)(void *, long)) job_fn;
static _Atomic(void *) job_ctx;
static _Atomic long job_chunks, job_done;
static _Atomic int job_helpers;                       // workers 0 ..< job_helpers take part
static _Atomic int busy;                              // a job holds the workers
static _Atomic int sleepers;
static pthread_mutex_t sleep_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t grow_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int workers;
static _Thread_local int inside;                      // this thread is running a chunk

static inline uint32_t generation(uint64_t t) { return (uint32_t)(t >> 32); }

static double seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/// Claims and runs chunks of generation g until none are left (or the job is no longer current).
static void take_chunks(uint32_t g) {
    void (*fn)(void *, long) = atomic_load_explicit(&job_fn, memory_order_acquire);
    void *ctx = atomic_load_explicit(&job_ctx, memory_order_acquire);
    const long chunks = atomic_load_explicit(&job_chunks, memory_order_acquire);
    uint64_t t = atomic_load_explicit(&ticket, memory_order_acquire);
    while (generation(t) == g && (long)(t & 0xffffffffu) < chunks) {
        if (atomic_compare_exchange_weak_explicit(&ticket, &t, t + 1, memory_order_acq_rel, memory_order_acquire)) {
            inside = 1;
            fn(ctx, (long)(t & 0xffffffffu));
            inside = 0;
            atomic_fetch_add_explicit(&job_done, 1, memory_order_release);
            t = atomic_load_explicit(&ticket, memory_order_acquire);
        }
    }
}

/// Whether the ticket still shows generation `seen`, or a job not yet open.
static inline int waiting(uint64_t t, uint32_t seen) { return generation(t) == seen || (t & 0xffffffffu) == CLOSED; }

/// One round of waiting: a pause, and after the first thousand rounds a yield too, so that on a
/// machine with more runnable threads than cores (two 2-thread runs on two cores) a waiting
/// thread hands its core to one with work.
static inline void wait_round(int spins) {
    relax();
    if (spins >= 1024) sched_yield();
}

static void *worker(void *arg) {
    const int index = (int)(intptr_t)arg;
    uint32_t seen = generation(atomic_load(&ticket));
    for (;;) {
        double until = 0;
        for (int spins = 0; waiting(atomic_load_explicit(&ticket, memory_order_acquire), seen); spins++) {
            wait_round(spins);
            if ((spins & 255) != 255) continue;
            const double now = seconds();
            if (until == 0) until = now + SPIN_SECONDS;
            else if (now > until) {
                pthread_mutex_lock(&sleep_lock);
                atomic_fetch_add(&sleepers, 1);
                while (waiting(atomic_load(&ticket), seen)) pthread_cond_wait(&wake, &sleep_lock);
                atomic_fetch_sub(&sleepers, 1);
                pthread_mutex_unlock(&sleep_lock);
            }
        }
        seen = generation(atomic_load_explicit(&ticket, memory_order_acquire));
        if (index < atomic_load_explicit(&job_helpers, memory_order_relaxed)) take_chunks(seen);
    }
    return NULL;
}

/// Starts workers until there are n (or as many as the system gives).
static void grow(int n) {
    if (n > MAX_WORKERS) n = MAX_WORKERS;
    if (atomic_load(&workers) >= n) return;
    pthread_mutex_lock(&grow_lock);
    while (atomic_load(&workers) < n) {
        pthread_t thread;
        if (pthread_create(&thread, NULL, worker, (void *)(intptr_t)atomic_load(&workers)) != 0) break;
        pthread_detach(thread);
        atomic_fetch_add(&workers, 1);
    }
    pthread_mutex_unlock(&grow_lock);
}

void atx_pool_run(int threads, long chunks, void (*fn)(void *ctx, long chunk), void *ctx) {
    int expected = 0;
    if (threads <= 1 || chunks <= 1 || inside || !atomic_compare_exchange_strong(&busy, &expected, 1)) {
        for (long k = 0; k < chunks; k++) fn(ctx, k);
        return;
    }
    grow(threads - 1);
    const uint32_t g = generation(atomic_load(&ticket)) + 1;
    atomic_store(&ticket, ((uint64_t)g << 32) | CLOSED);   // no claim on the last job succeeds from here on
    atomic_store_explicit(&job_fn, fn, memory_order_release);
    atomic_store_explicit(&job_ctx, ctx, memory_order_release);
    atomic_store_explicit(&job_chunks, chunks, memory_order_release);
    atomic_store_explicit(&job_helpers, threads - 1, memory_order_release);
    atomic_store_explicit(&job_done, 0, memory_order_relaxed);
    atomic_store(&ticket, (uint64_t)g << 32);   // opens the job (sequentially consistent: see sleepers)
    if (atomic_load(&sleepers) > 0) {
        pthread_mutex_lock(&sleep_lock);
        pthread_cond_broadcast(&wake);
        pthread_mutex_unlock(&sleep_lock);
    }
    take_chunks(g);
    for (int spins = 0; atomic_load_explicit(&job_done, memory_order_acquire) < chunks; spins++) wait_round(spins);
    atomic_store(&busy, 0);
}
