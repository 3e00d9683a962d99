/**
 * The flags novadock's Node process is started with. V8 takes heap settings only on the
 * command line (not NODE_OPTIONS, not at run time), so every launcher passes them: `npm start`,
 * scripts/up.sh, scripts/conformance.sh, the Dockerfile and the tests' server helper
 * (test/unit/node-flags.test.ts checks each one).
 *
 * --initial-old-space-size=64: an upload streams a GiB through 64 KiB socket buffers, and V8
 * counts that external memory against the old generation's limit until its next scavenge
 * (~32 MiB later). When the limit sits just above the live heap (~20 MiB here, as after the
 * memory reducer's collection in any idle spell), every scavenge then starts a full
 * mark-compact: ~60 of them per GiB, 1.5-2 s of CPU taken from the engine loading the same
 * bytes. A 64 MiB floor leaves more headroom than one scavenge's worth of buffers.
 */
export const NODE_FLAGS = ['--initial-old-space-size=64'];

/** The flags this process was started without. */
export function missingNodeFlags(execArgv: readonly string[] = process.execArgv): string[] {
  return NODE_FLAGS.filter((f) => !execArgv.includes(f));
}
