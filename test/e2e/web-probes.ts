/**
 * Probes of the network tests' web servers (busybox httpd on 8080, "hello from <hostname>") from
 * this machine, sent only to the test's own ranges: one GET, and polls until a page answers or
 * stops answering. Shared by test/e2e/network-traffic.test.ts and test/multihost/network-walk.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { poll } from './support';

export interface WebProbes {
  /** Throws unless `ip` is one of the test's own ranges: nothing else is ever sent to. */
  ours(ip: string): void;
  /** One GET from the machine with a short timeout: the body, or undefined when nothing answers. */
  hostGet(ip: string): string | undefined;
  /** Polls until `probe` answers (or not), bounded: the last answer either way. */
  settles<T>(probe: () => Promise<T> | T, done: (v: T) => boolean): Promise<T>;
  /** The page at `ip`, once it answers. */
  answers(ip: string): Promise<string | undefined>;
  /** Silent, and still silent when asked once more (one lost SYN is not a refusal). */
  silent(ip: string): Promise<string | undefined>;
}

/** Probes that only ever send to addresses `allowed` matches. */
export function webProbes(allowed: RegExp): WebProbes {
  const ours = (ip: string) => {
    if (!allowed.test(ip)) throw new Error(`refusing to send to ${ip}: not one of this test's ranges`);
  };
  const hostGet = (ip: string): string | undefined => {
    ours(ip);
    try {
      return execFileSync('curl', ['-sS', '--max-time', '2', `http://${ip}:8080/`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      return undefined;
    }
  };
  const settles = <T>(probe: () => Promise<T> | T, done: (v: T) => boolean) => poll(async () => probe(), done, 60_000, 250);
  return {
    ours, hostGet, settles,
    answers: (ip) => settles(() => hostGet(ip), (v) => v !== undefined),
    silent: async (ip) => (await settles(() => hostGet(ip), (v) => v === undefined)) ?? hostGet(ip),
  };
}
