/**
 * Recoveries: the reconciler resolves interrupted servers a few at a time, and a server found by a
 * sweep and by a worker's death at once is recovered once.
 */
import { Recoveries } from '../../src/compute/recoveries';

/** A recover function that holds each call until released, and counts calls and concurrency. */
function recorder() {
  const calls: string[] = [];
  const waiting = new Map<string, () => void>();
  let active = 0;
  let most = 0;
  const recover = (id: string) => new Promise<void>((resolve) => {
    calls.push(id);
    active++;
    most = Math.max(most, active);
    waiting.set(id, () => { active--; resolve(); });
  });
  const release = (id: string) => { waiting.get(id)?.(); waiting.delete(id); };
  return { calls, waiting, recover, release, most: () => most };
}

const turn = async () => { for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r)); };

test('no more than the concurrency at once, and every server in the end', async () => {
  const r = recorder();
  const recoveries = new Recoveries(r.recover, 3);
  const ids = ['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((id) => ({ id }));
  const done = recoveries.each(ids);
  await turn();
  expect(r.calls).toEqual(['a', 'b', 'c']);
  while (r.waiting.size > 0) {
    for (const id of [...r.waiting.keys()]) r.release(id);
    await turn();
  }
  await done;
  expect(r.calls.sort()).toEqual(ids.map((s) => s.id));
  expect(r.most()).toBe(3);
});

test('a server whose recovery is running is waited for, not recovered again', async () => {
  const r = recorder();
  const recoveries = new Recoveries(r.recover);
  const first = recoveries.each([{ id: 'a' }]);
  await turn();
  let secondDone = false;
  const second = recoveries.each([{ id: 'a' }, { id: 'b' }]).then(() => { secondDone = true; });
  await turn();
  expect(r.calls).toEqual(['a', 'b']);
  r.release('b');
  await turn();
  expect(secondDone).toBe(false);
  r.release('a');
  await Promise.all([first, second]);
  expect(secondDone).toBe(true);
  // Done: a later call recovers it again (a new death, a new sweep).
  const third = recoveries.each([{ id: 'a' }]);
  await turn();
  expect(r.calls).toEqual(['a', 'b', 'a']);
  r.release('a');
  await third;
});

test('a recovery that fails does not stop the others, nor the next call', async () => {
  const calls: string[] = [];
  const recoveries = new Recoveries(async (id) => {
    calls.push(id);
    if (id === 'a') throw new Error('the engine said no');
  }, 1);
  await recoveries.each([{ id: 'a' }, { id: 'b' }]);
  await recoveries.each([{ id: 'a' }]);
  expect(calls).toEqual(['a', 'b', 'a']);
});
