/**
 * Test profiles: the short CI profile (`npm test`, `.ci/run`) and the long soak profile
 * (`npm run test:soak`, COFFER_PROFILE=soak). Suites read their trial counts here so one file serves
 * both; any count can be overridden with COFFER_TRIALS_<NAME> (e.g. COFFER_TRIALS_CRASH=500).
 */
export const isSoak = process.env.COFFER_PROFILE === 'soak';

/** The number of trials for `name`: `ci` normally, `soak` in the soak profile, or the env override. */
export function trials(name: string, ci: number, soak: number): number {
  const env = process.env[`COFFER_TRIALS_${name.toUpperCase()}`];
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1)
      throw new Error(`COFFER_TRIALS_${name.toUpperCase()} must be a positive integer`);
    return n;
  }
  return isSoak ? soak : ci;
}

/** A fixed-seed PRNG (mulberry32) so a failing trial can be replayed with COFFER_SEED. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The run's seed: COFFER_SEED, or a fresh one (printed by the suites that use it). */
export function runSeed(): number {
  const s = process.env.COFFER_SEED;
  return s ? Number(s) : Math.floor(Math.random() * 2 ** 31);
}

/**
 * fast-check runs for one property: `ci` normally, at least 5,000 in the soak profile
 * (COFFER_TRIALS_PROPERTY overrides every property's count).
 */
export function propertyRuns(ci: number): number {
  return trials('property', ci, Math.max(ci, 5000));
}
