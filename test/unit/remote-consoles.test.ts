/**
 * The serial console's rules (src/compute/services/remote-consoles.ts) on the fake engine, without
 * HTTP: a token opens one shell once, before its expiry (a clock the test sets), for a server of
 * the project it was issued for that still exists and runs; Nova's refusals for the states that
 * forbid a console; and one use of a token even when two processes over one database race for it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeTestServices, TestServices } from '../helpers/services';
import { FakeDriver } from '../../src/virt/fake/driver';
import { MemoryImageStore } from '../../src/store/memory-store';
import { DomainError } from '../../src/errors';

let t: TestServices;
let driver: FakeDriver;
let image: string;
let clock = 0;

beforeEach(async () => {
  clock = Date.parse('2026-12-06T12:00:00Z');
  driver = new FakeDriver({ host: 'fake-host' });
  t = await makeTestServices({ driver, consoleClock: () => clock, config: { consoleTokenTtlSeconds: 30 } });
  image = await t.uploadImage();
});
afterEach(async () => {
  await t.close();
});

async function active(p: TestServices = t, name = 'vm'): Promise<string> {
  const { servers } = await p.services.compute.boot.create(await p.ctx('demo'), { name, imageRef: image, flavorRef: '1', minCount: 1, maxCount: 1 });
  await p.services.compute.tasks.idle();
  return servers[0].id;
}

const tokenOf = (url: string) => new URL(url).searchParams.get('token')!;
const consoles = () => t.services.compute.consoles;
const urlFor = async (id: string, p: TestServices = t) => p.services.compute.consoles.getConsole(await p.ctx('demo'), id, 'serial', 'serial');
async function failure(p: Promise<unknown>): Promise<{ kind: string; message: string }> {
  try {
    await p;
  } catch (e) {
    return { kind: (e as DomainError).kind, message: (e as Error).message };
  }
  throw new Error('expected a refusal');
}

describe('tokens', () => {
  test('a token opens a shell in its server once; a second use is refused and opens nothing', async () => {
    const id = await active();
    const token = tokenOf(await urlFor(id));
    const { serverId, session } = await consoles().connect(token);
    expect(serverId).toBe(id);
    expect(driver.consoles.live(id)).toHaveLength(1);
    expect(await failure(consoles().connect(token))).toEqual({ kind: 'unauthorized', message: "The token '***' is invalid or has expired" });
    expect(driver.consoles.live(id)).toHaveLength(1);
    await session.close();
  });

  test('the TTL setting (30 s here) bounds a token: usable at 29.999 s, refused at 30 s', async () => {
    const id = await active();
    const early = tokenOf(await urlFor(id));
    const late = tokenOf(await urlFor(id));
    clock += 29_999;
    await (await consoles().connect(early)).session.close();
    clock += 1;
    expect((await failure(consoles().connect(late))).kind).toBe('unauthorized');
    expect(driver.consoles.live(id)).toHaveLength(0);
  });

  test('expired tokens are forgotten when the next one is issued', async () => {
    const id = await active();
    await urlFor(id);
    await urlFor(id);
    expect(await t.services.db('console_auth_tokens')).toHaveLength(2);
    clock += 31_000;
    await urlFor(id);
    const rows = await t.services.db('console_auth_tokens').select('expires_ms');
    expect(rows.map((r) => Number(r.expires_ms))).toEqual([clock + 30_000]);
  });

  test('an empty or made-up token is refused', async () => {
    expect((await failure(consoles().connect(''))).kind).toBe('unauthorized');
    expect((await failure(consoles().connect('x'.repeat(43)))).kind).toBe('unauthorized');
  });

  test('ten connections racing with one token: one shell', async () => {
    const id = await active();
    const token = tokenOf(await urlFor(id));
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => consoles().connect(token)));
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    expect(driver.consoles.live(id)).toHaveLength(1);
    await (won[0] as PromiseFulfilledResult<{ session: { close(): Promise<void> } }>).value.session.close();
  });
});

describe('which servers', () => {
  test("another project's server is not found (404), for the URL as for everything else", async () => {
    const id = await active();
    const err = await failure(consoles().getConsole(await t.ctx('alt'), id, 'serial', 'serial'));
    expect(err).toEqual({ kind: 'notFound', message: `Instance ${id} could not be found.` });
  });

  test('a server deleted after the URL was given: not found, nothing opened', async () => {
    const id = await active();
    const token = tokenOf(await urlFor(id));
    await t.services.compute.deleter.delete(await t.ctx('demo'), id);
    await t.services.compute.tasks.idle();
    expect(await failure(consoles().connect(token))).toEqual({ kind: 'notFound', message: `Instance ${id} could not be found.` });
  });

  test.each([
    ['stopped', { vm_state: 'stopped' }, (id: string) => `Instance ${id} is not ready`],
    ['paused', { vm_state: 'paused' }, (id: string) => `Instance ${id} is not ready`],
    ['never placed', { host: null }, (id: string) => `Instance ${id} is not ready`],
    ['being deleted', { task_state: 'deleting' }, (id: string) => `Cannot 'get_serial_console' instance ${id} while it is in task_state deleting`],
    ['migrating', { task_state: 'migrating' }, (id: string) => `Cannot 'get_serial_console' instance ${id} while it is in task_state migrating`],
  ])('a server %s: 409 in Nova\'s words, for the URL and for a token given before', async (_what, patch, message) => {
    const id = await active();
    const token = tokenOf(await urlFor(id));
    await t.services.db('servers').where({ id }).update(patch);
    expect(await failure(urlFor(id))).toEqual({ kind: 'invalidState', message: message(id) });
    expect(await failure(consoles().connect(token))).toEqual({ kind: 'invalidState', message: message(id) });
    expect(driver.consoles.live(id)).toHaveLength(0);
  });

  test('an engine that does not answer: unavailable (503), the token used up', async () => {
    const id = await active();
    const token = tokenOf(await urlFor(id));
    driver.setUnavailable(true);
    expect((await failure(consoles().connect(token))).kind).toBe('unavailable');
    driver.setUnavailable(false);
    expect((await failure(consoles().connect(token))).kind).toBe('unauthorized');
  });
});

describe('two processes over one database', () => {
  test('a URL from one process opens the console on the other, once: racing both with one token gives one shell', async () => {
    await t.close();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'novadock-console-'));
    const store = new MemoryImageStore();
    const over = () => makeTestServices({ driver, store, dbFile: path.join(dir, 'novadock.sqlite'), config: { dataDir: dir }, consoleClock: () => clock });
    const a = await over();
    const b = await over();
    try {
      image = await a.uploadImage();
      const id = await active(a);
      const onB = await b.services.compute.consoles.connect(tokenOf(await urlFor(id, a)));
      expect(onB.serverId).toBe(id);
      await onB.session.close();

      const token = tokenOf(await urlFor(id, b));
      const results = await Promise.allSettled([a, b, a, b].map((p) => p.services.compute.consoles.connect(token)));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(results.filter((r) => r.status === 'rejected').map((r) => ((r as PromiseRejectedResult).reason as DomainError).kind)).toEqual(['unauthorized', 'unauthorized', 'unauthorized']);
      expect(driver.consoles.live(id)).toHaveLength(1);
      for (const s of driver.consoles.live(id)) await s.close();
    } finally {
      await a.close();
      await b.close();
      fs.rmSync(dir, { recursive: true, force: true });
      t = await makeTestServices({ driver }); // for afterEach
    }
  });
});
