/** Seeded randomness for tests and benchmarks that must make the same bytes on every run. */

/** xorshift32: tiny, fast, and identical on every JavaScript engine; yields 32-bit integers. */
export function random(seed: number): () => number {
  let state = seed >>> 0 || 0x9e3779b9;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state;
  };
}
