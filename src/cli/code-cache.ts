/**
 * What bin/cib.cjs asks after a successful run before it keeps V8's code cache for the command
 * (README, "The command line's speed"): whether this run compiled the code later runs of its
 * command compile. A cache holds every function the run compiled, and a later run pays to load all
 * of it, so a run that does first-time work (`cib customize` walking a base whose check is not
 * kept yet) leaves the cache to the next run.
 */
export const codeCacheHint = { keep: true };

/** Says that this run does work later runs of its command will not. */
export function firstTimeWork(): void {
  codeCacheHint.keep = false;
}
