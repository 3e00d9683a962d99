/**
 * Helpers for the DockerDriver tests: the docker CLI (what an operator would type), a unique
 * compute host name per run, and a cleanup that removes only what such a run created.
 */
import crypto from 'node:crypto';
import { spawn } from 'node:child_process';
import pino from 'pino';
import { TEST_PROJECT_PREFIX } from '../contract/driver-contract';

export const silentLog = () => pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

/** Compute host names of these tests start with this; containers are labelled with it. */
export const TEST_HOST_PREFIX = 'test-drv-host-';

export const dockerTestHost = (): string => `${TEST_HOST_PREFIX}${crypto.randomBytes(4).toString('hex')}`;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `docker …` without blocking the event loop (event streams keep flowing). */
export function dockerCli(args: string[], input?: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    // No input, no stdin pipe: a docker that exits before reading it made the write fail (EPIPE).
    const p = spawn('docker', args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout!.on('data', (c) => (stdout += c));
    p.stderr!.on('data', (c) => (stderr += c));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    if (p.stdin) {
      // A docker that exits without reading all its input is reported by its exit code, not by EPIPE.
      p.stdin.on('error', () => undefined);
      p.stdin.end(input);
    }
  });
}

/** Removes the containers of a test host and the test projects' networks that are left empty. */
export async function removeTestArtifacts(host: string): Promise<void> {
  const ids = (await dockerCli(['ps', '-aq', '--filter', `label=novadock.host=${host}`])).stdout.split(/\s+/).filter(Boolean);
  if (ids.length) await dockerCli(['rm', '-f', '-v', ...ids]);
  const nets = (await dockerCli(['network', 'ls', '--format', '{{.Name}}', '--filter', `name=novadock-net-${TEST_PROJECT_PREFIX}`])).stdout
    .split(/\s+/)
    .filter((n) => n.startsWith(`novadock-net-${TEST_PROJECT_PREFIX}`));
  for (const n of nets) {
    const inUse = (await dockerCli(['network', 'inspect', n, '--format', '{{len .Containers}}'])).stdout.trim();
    if (inUse === '0') await dockerCli(['network', 'rm', n]);
  }
}

/** Carrier images a compute host's base-layer shortcut imported (`docker import`) since `sinceMs`, by the engine's events. */
export async function importsSince(host: string, sinceMs: number): Promise<string[]> {
  const r = await dockerCli(['events', '--since', (sinceMs / 1000).toFixed(3), '--until', (Date.now() / 1000).toFixed(3),
    '--filter', 'type=image', '--filter', 'event=import', '--filter', `label=novadock.layer-carrier=${host}`, '--format', '{{.ID}}']);
  if (r.code !== 0) throw new Error(r.stderr);
  return r.stdout.split('\n').filter(Boolean);
}

/** The base-layer shortcut's carrier images of a compute host still on the engine. */
export async function carriersLeft(host: string): Promise<string[]> {
  const r = await dockerCli(['images', '-a', '-q', '--filter', `label=novadock.layer-carrier=${host}`]);
  return r.stdout.split('\n').filter(Boolean);
}
