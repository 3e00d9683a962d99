/**
 * TaskRunner.whenIdle: the reconciler reads an instance again once the work on its server is done
 * (a build's tail, an action), and not before; lanes and the API calls claiming a task both count.
 */
import pino from 'pino';
import { TaskRunner } from '../../src/compute/services/task-runner';

const runner = () => new TaskRunner(pino({ level: 'silent' }));

/** A promise and the function that settles it. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => { open = resolve; });
  return { promise, open };
}

/** Whether `p` has settled after the queue has drained. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(() => { done = true; });
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  return done;
}

test('a server with nothing in flight is idle at once', async () => {
  expect(await settled(runner().whenIdle('s1'))).toBe(true);
});

test('waits for every task queued on the lane, not for other servers', async () => {
  const r = runner();
  const first = gate();
  const second = gate();
  const other = gate();
  r.schedule('s1', 'first', () => first.promise);
  r.schedule('s1', 'second', () => second.promise);
  r.schedule('s2', 'other', () => other.promise);
  const idle = r.whenIdle('s1');
  first.open();
  expect(await settled(idle)).toBe(false);
  second.open();
  expect(await settled(idle)).toBe(true);
  expect(r.isBusy('s2')).toBe(true);
  other.open();
  await r.idle();
});

test('a task that fails still ends the wait', async () => {
  const r = runner();
  r.schedule('s1', 'failing', async () => { throw new Error('the engine said no'); });
  expect(await settled(r.whenIdle('s1'))).toBe(true);
});

test('an API call claiming a task counts until it has scheduled its work, and that work too', async () => {
  const r = runner();
  const claimed = gate();
  const work = gate();
  const call = r.guarded(['s1'], async () => {
    await claimed.promise;
    r.schedule('s1', 'work', () => work.promise);
  });
  const idle = r.whenIdle('s1');
  expect(await settled(idle)).toBe(false);
  claimed.open();
  await call;
  expect(await settled(idle)).toBe(false);
  work.open();
  expect(await settled(idle)).toBe(true);
});
