/**
 * Several novadock processes over one database (issue 16), as two sets of services sharing a
 * database file, a data directory (token secret), an image store and a compute host (one fake
 * engine): one process watches the host at a time and the other takes it over when it dies; a
 * task or upload in flight on a live process is left alone, and resolved by a survivor once that
 * process is dead; a token revoked on one is refused by the other; conflicting actions sent to
 * both have one winner. "Dying" is halting the heartbeat and the reconciler without leaving (what
 * a kill -9 looks like to the others). Real processes over PostgreSQL: test/cluster.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { makeTestServices, TestServices } from '../helpers/services';
import { FakeDriver } from '../../src/virt/fake/driver';
import { MemoryImageStore } from '../../src/store/memory-store';
import { DomainError } from '../../src/errors';

// The two "processes" share one event loop here, so one's synchronous work (scrypt while seeding)
// delays the other's heartbeat: the liveness timeout leaves room for that.
const MEMBERSHIP = { heartbeatMs: 100, deadAfterMs: 2_000 };

let dir: string;
let driver: FakeDriver;
let store: MemoryImageStore;
let a: TestServices;
let b: TestServices | undefined;
/** Held spawns: released (with a failure) before the processes close. */
const gates: (() => void)[] = [];

const processOver = (gate?: FakeDriver) => makeTestServices({
  driver: gate ?? driver, store, dbFile: path.join(dir, 'novadock.sqlite'), config: { dataDir: dir }, membership: MEMBERSHIP,
});

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'novadock-cluster-'));
  driver = new FakeDriver({ host: 'fake-host' });
  store = new MemoryImageStore();
  a = await processOver();
});
afterEach(async () => {
  for (const release of gates.splice(0)) release();
  await a.close();
  await b?.close();
  b = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Waits (bounded: a guard against hangs, not a timing claim) for background work to make `check` true. */
async function eventually(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`never happened: ${what}`);
}

/** What a kill -9 leaves: no heartbeat, no watching, nothing cleaned up. */
function die(p: TestServices): void {
  p.services.membership.halt();
  p.services.reconciler.stop();
}

async function boot(p: TestServices, image: string, name = 'vm'): Promise<string> {
  const { servers } = await p.services.compute.boot.create(await p.ctx('demo'), { name, imageRef: image, flavorRef: '1', minCount: 1, maxCount: 1 });
  return servers[0].id;
}

const row = async (p: TestServices, id: string) => p.services.compute.queries.get(await p.ctx('admin'), id);

test('one process watches a compute host; when it dies another takes the host over and keeps states true', async () => {
  await a.services.reconciler.start();
  b = await processOver();
  await b.services.reconciler.start();
  expect(a.services.reconciler.watchedHosts()).toEqual(['fake-host']);
  expect(b.services.reconciler.watchedHosts()).toEqual([]);

  const image = await a.uploadImage();
  const id = await boot(b, image);
  await b.services.compute.tasks.idle();
  expect((await row(a, id)).vm_state).toBe('active');

  die(a);
  await eventually(() => b!.services.reconciler.watchedHosts().includes('fake-host'), 'b watches the host');
  driver.externalKill(id);
  await eventually(async () => (await row(b!, id)).vm_state === 'stopped', 'the kill reaches the database through b');
  // The lease and the heartbeat are renewed on separate timers, so the host can change hands a
  // tick before b's heartbeat finds a's row stale: a is out of b's workers within a tick or two.
  await eventually(() => !b!.services.membership.workers().includes(a.services.membership.id), 'b counts a as dead');
});

test('a build in flight on a live process is left alone; once that process dies, a survivor resolves it', async () => {
  let release!: () => void;
  const held = new Promise<void>((r) => {
    release = r;
  });
  gates.push(release);
  const gated = new FakeDriver({
    host: 'fake-host',
    beforeCall: async (op) => {
      if (op === 'spawn') await held;
    },
  });
  await a.close();
  a = await processOver(gated);
  await a.services.reconciler.start();
  const image = await a.uploadImage();
  const id = await boot(a, image);
  await eventually(async () => (await row(a, id)).task_state === 'spawning', 'the build reaches the engine');

  b = await processOver(gated);
  await b.services.reconciler.start();
  await b.services.reconciler.recoverAbandoned();
  await b.services.reconciler.sweep();
  const during = await row(b, id);
  expect([during.vm_state, during.task_state]).toEqual(['building', 'spawning']);
  expect(during.task_owner).toBe(a.services.membership.id);

  die(a);
  await eventually(async () => {
    const s = await row(b!, id);
    return s.task_state === null && s.vm_state !== 'building';
  }, 'b resolves the interrupted build');
  const after = await row(b, id);
  expect(after.vm_state).toBe('error');
  expect(after.fault?.message).toBeTruthy();
});

test('an upload in flight on a live process is left alone; once that process dies it goes back to queued', async () => {
  const ctx = await a.ctx('demo');
  const img = await a.services.images.create(ctx, { name: 'slow', container_format: 'bare', disk_format: 'raw' });
  const body = new PassThrough();
  const upload = a.services.imageUploads.upload(ctx, img.id, body).catch((e: unknown) => e);
  body.write(Buffer.alloc(1024));
  await eventually(async () => (await a.services.images.get(ctx, img.id)).status === 'saving', 'the upload starts');

  b = await processOver();
  expect((await b.services.images.get(await b.ctx('demo'), img.id)).status).toBe('saving');
  die(a);
  await eventually(async () => (await b!.services.images.get(await b!.ctx('demo'), img.id)).status === 'queued', 'b puts the image back to queued');
  body.destroy();
  await upload;
});

test('a token revoked through one process is refused by the other', async () => {
  b = await processOver();
  const { token } = await a.services.tokens.issue(a.authBody('demo'));
  await b.services.tokens.context(token, 'req-1');
  await a.services.tokens.revoke(token);
  await eventually(async () => {
    try {
      await b!.services.tokens.context(token, 'req-2');
      return false;
    } catch (e) {
      return e instanceof DomainError && e.kind === 'unauthorized';
    }
  }, 'b refuses the revoked token');
});

test('conflicting actions sent to both processes at once: one wins, the rest are refused', async () => {
  await a.services.reconciler.start();
  b = await processOver();
  await b.services.reconciler.start();
  const image = await a.uploadImage();
  const id = await boot(a, image);
  await a.services.compute.tasks.idle();
  const ctxA = await a.ctx('demo');
  const ctxB = await b.ctx('demo');
  const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => (i % 2 ? a.services.compute.actions.stop(ctxA, id) : b!.services.compute.actions.stop(ctxB, id))));
  expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  for (const r of results) {
    if (r.status === 'rejected') expect((r.reason as DomainError).kind).toBe('invalidState');
  }
  await a.services.compute.tasks.idle();
  await b.services.compute.tasks.idle();
  expect((await row(a, id)).vm_state).toBe('stopped');
});
