/**
 * Extra Docker engines for many-host tests (scripts/engines.sh): each in a network namespace of
 * its own, linked by veths on a private bridge, joined into one swarm for overlay networks.
 *
 * scripts/test.sh starts them once for the `multihost` project and passes them in
 * NOVADOCK_TEST_ENGINES (the compute_hosts JSON); a test file run on its own starts them itself
 * and removes them (namespaces, data, bridge) when done.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';

export interface TestEngine {
  /** Compute host name to configure (host1, host2, …). */
  name: string;
  /** unix:///run/novadock-engines/h<i>.sock */
  docker_host: string;
}

const SCRIPT = path.join(__dirname, '..', '..', 'scripts', 'engines.sh');

export interface Engines {
  hosts: TestEngine[];
  /** Removes the engines if this file started them (a no-op when the run's engines are shared). */
  stop(): void;
}

export function startEngines(count = 2): Engines {
  const shared = process.env.NOVADOCK_TEST_ENGINES;
  if (shared) {
    const hosts = JSON.parse(shared) as TestEngine[];
    if (hosts.length < count) throw new Error(`NOVADOCK_TEST_ENGINES has ${hosts.length} engines, this test needs ${count}`);
    return { hosts: hosts.slice(0, count), stop: () => undefined };
  }
  const out = execFileSync('bash', [SCRIPT, 'up', String(count), '--swarm'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const hosts = JSON.parse(out.trim().split('\n').pop() as string) as TestEngine[];
  return { hosts, stop: () => { execFileSync('bash', [SCRIPT, 'down'], { stdio: 'inherit' }); } };
}
