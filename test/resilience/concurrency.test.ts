/**
 * Concurrency on a real novadock and engine (issue 5): 20 conflicting actions fired at once at one
 * ACTIVE server — stops, pauses, suspends, soft reboots, snapshots — get exactly one 202 and
 * nineteen 409s; afterwards no task is in flight, the state is the one the winner asked for, the
 * engine agrees, and the losers left no trace (no instance action, no image).
 *
 * Several rounds, so different actions win; between rounds the server is brought back to ACTIVE.
 */
import fs from 'node:fs';
import http from 'node:http';
import { busyboxImage } from '../helpers/test-image';
import { Harness, Reply, boot, containerOf, errorMessage, resilServer, settles, statusesFor, uploadImage } from './support';

jest.setTimeout(600_000);

const ROUNDS = 5;
const CONCURRENT = 20;

type Kind = 'os-stop' | 'pause' | 'suspend' | 'reboot' | 'createImage';
const KINDS: Kind[] = ['os-stop', 'pause', 'suspend', 'reboot', 'createImage'];

/** What each action leaves the server as, once its task is done. */
const OUTCOME: Record<Kind, { status: string; engine: string }> = {
  'os-stop': { status: 'SHUTOFF', engine: 'exited' },
  pause: { status: 'PAUSED', engine: 'paused' },
  suspend: { status: 'SUSPENDED', engine: 'paused' },
  reboot: { status: 'ACTIVE', engine: 'running' },
  createImage: { status: 'ACTIVE', engine: 'running' },
};
/** How to bring the server back to ACTIVE after each outcome. */
const UNDO: Partial<Record<Kind, string>> = { 'os-stop': 'os-start', pause: 'unpause', suspend: 'resume' };

let h: Harness;
/** Keep-alive sockets opened before each burst, so the 20 requests leave together, not one connect after another. */
const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENT });
let imageId: string;
let serverId: string;

beforeAll(async () => {
  h = await resilServer('concurrency');
  const img = busyboxImage('resil-concurrency');
  h.engineImages.add(img.imageId);
  imageId = await uploadImage(h.demo, fs.readFileSync(img.path), { name: 'resil-concurrency' });
  serverId = await boot(h.demo, { name: 'resil-contended', imageRef: imageId, flavorRef: '1' });
  const s = await settles(h.demo, serverId, ['ACTIVE', 'ERROR']);
  expect(s.status).toBe('ACTIVE');
}, 300_000);

afterAll(async () => {
  agent.destroy();
  console.log(`concurrency: winners by round: ${winners.join(', ')}`);
  await h?.cleanup();
}, 300_000);

/** One request on the warm sockets; resolves with the reply and when it arrived. */
function send(method: string, p: string, payload?: unknown): Promise<Reply & { at: number }> {
  return new Promise((resolve, reject) => {
    const data = payload === undefined ? undefined : Buffer.from(JSON.stringify(payload));
    const req = http.request({
      host: '127.0.0.1', port: h.srv.port, method, path: `/compute/v2.1${p}`, agent, timeout: 60_000,
      headers: { 'X-Auth-Token': h.demo.token, Accept: 'application/json', ...(data ? { 'Content-Type': 'application/json', 'Content-Length': String(data.length) } : {}) },
    }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        let parsed: unknown;
        try {
          parsed = text ? JSON.parse(text) : undefined;
        } catch {
          parsed = undefined;
        }
        const headers = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers.set(k, v);
        resolve({ status: res.statusCode ?? 0, body: parsed, text, headers, at: Date.now() });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${p}: no answer within 60 s`)));
    req.on('error', reject);
    req.end(data);
  });
}

function body(kind: Kind, round: number, i: number): Record<string, unknown> {
  if (kind === 'reboot') return { reboot: { type: 'SOFT' } };
  if (kind === 'createImage') return { createImage: { name: `resil-race-${round}-${i}` } };
  return { [kind]: null };
}

async function actionCount(): Promise<number> {
  const r = await h.demo.compute('GET', `/servers/${serverId}/os-instance-actions`);
  expect(r.status).toBe(200);
  return (r.body as { instanceActions: unknown[] }).instanceActions.length;
}

async function imageNames(): Promise<string[]> {
  const r = await h.demo.image('GET', '/images');
  return (r.body as { images: { name: string }[] }).images.map((i) => i.name).sort();
}

const winners: Kind[] = [];

describe.each(Array.from({ length: ROUNDS }, (_, i) => i + 1))('round %i: when 20 conflicting actions hit one ACTIVE server at once', (round) => {
  test('then exactly one is accepted (202), the other 19 are refused (409) with a message, and the final state is consistent with the engine', async () => {
    const before = { actions: await actionCount(), images: await imageNames() };
    // Rotate the mix each round so a different action is first in line.
    const kinds = Array.from({ length: CONCURRENT }, (_, i) => KINDS[(i + round - 1) % KINDS.length]);
    await Promise.all(kinds.map(() => send('GET', `/servers/${serverId}`)));
    const t0 = Date.now();
    const replies = await Promise.all(kinds.map((k, i) => send('POST', `/servers/${serverId}/action`, body(k, round, i))));
    const spread = Math.max(...replies.map((r) => r.at)) - t0;

    const statuses = replies.map((r) => r.status);
    const accepted = statuses.map((s, i) => (s === 202 ? i : -1)).filter((i) => i >= 0);
    console.log(`concurrency: round ${round}: ${JSON.stringify(statuses.reduce<Record<number, number>>((m, s) => ({ ...m, [s]: (m[s] ?? 0) + 1 }), {}))}, winner ${kinds[accepted.at(0) ?? -1]}, all answered within ${spread} ms`);
    expect(accepted).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(CONCURRENT - 1);
    for (const r of replies.filter((x) => x.status === 409)) {
      expect(r.headers.get('content-type')).toMatch(/application\/json/);
      expect(errorMessage(r.body)).toMatch(/Cannot '\w+' instance|task_state|vm_state/i);
    }
    const winner = kinds[accepted[0]];
    winners.push(winner);

    // Once the winner's task is done: its outcome, in the API and in the engine.
    const s = await settles(h.demo, serverId, [OUTCOME[winner].status, 'ERROR'], 120_000);
    expect({ status: s.status, task: s['OS-EXT-STS:task_state'] }).toEqual({ status: OUTCOME[winner].status, task: null });
    const c = await containerOf(h.host, serverId);
    expect(c?.State.Status).toBe(OUTCOME[winner].engine);
    expect(statusesFor(c)).toContain(s.status);

    // The losers left no trace: one new instance action, and an image only if a snapshot won.
    expect(await actionCount()).toBe(before.actions + 1);
    const images = await imageNames();
    if (winner === 'createImage') {
      const name = (body(winner, round, accepted[0]).createImage as { name: string }).name;
      expect(images).toEqual([...before.images, name].sort());
    } else {
      expect(images).toEqual(before.images);
    }

    // Back to ACTIVE for the next round.
    const undo = UNDO[winner];
    if (undo) {
      const r = await h.demo.action(serverId, { [undo]: null });
      expect(r.status).toBe(202);
      const back = await settles(h.demo, serverId, ['ACTIVE', 'ERROR'], 120_000);
      expect(back.status).toBe('ACTIVE');
      expect((await containerOf(h.host, serverId))?.State.Status).toBe('running');
    }
  });
});
