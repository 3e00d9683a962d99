/**
 * The Docker console's PID marker (src/virt/docker/console.ts): the shell's first output is
 * `ESC ] novadock-console ; <pid> BEL`; it is taken out of the terminal's bytes however the
 * engine splits them into chunks, and output without it passes unchanged.
 */
import { MarkerReader } from '../../src/virt/docker/console';

function through(chunks: Buffer[]): { out: string; pid: number | undefined; decided: boolean } {
  const m = new MarkerReader();
  let out = '';
  for (const c of chunks) out += m.feed(c).toString('latin1');
  const decided = m.isDecided;
  out += m.giveUp().toString('latin1');
  return { out, pid: m.pid, decided };
}

const MARKED = Buffer.from('\x1b]novadock-console;4242\x07\r\nBusyBox v1.35.0 built-in shell (ash)\r\nEnter \'help\' for a list of built-in commands.\r\n\r\n/ # ');
const SHELL = MARKED.subarray(MARKED.indexOf(0x07) + 1).toString('latin1');

test('the marker and the banner in one chunk (longer than the marker limit): the PID is read, the marker removed', () => {
  expect(through([MARKED])).toEqual({ out: SHELL, pid: 4242, decided: true });
});

test.each([1, 2, 3, 7, 19, 25, 26, 27, 64])('chunks of %i bytes: the same', (size) => {
  const chunks: Buffer[] = [];
  for (let i = 0; i < MARKED.length; i += size) chunks.push(MARKED.subarray(i, i + size));
  expect(through(chunks)).toEqual({ out: SHELL, pid: 4242, decided: true });
});

test('output without the marker passes unchanged, with no PID', () => {
  expect(through([Buffer.from('/ # '), Buffer.from('echo hi\r\n')])).toEqual({ out: '/ # echo hi\r\n', pid: undefined, decided: true });
  expect(through([Buffer.from('\x1b[6n')])).toEqual({ out: '\x1b[6n', pid: undefined, decided: true });
});

test('a marker never completed is held, then passed on as it came: past the limit, or when given up on', () => {
  const half = Buffer.from('\x1b]novadock-console;12');
  expect(through([half])).toEqual({ out: half.toString('latin1'), pid: undefined, decided: false });
  const long = Buffer.concat([Buffer.from('\x1b]novadock-console;'), Buffer.alloc(100, 0x31)]);
  expect(through([long, Buffer.from('\x07rest')])).toEqual({ out: `${long.toString('latin1')}\x07rest`, pid: undefined, decided: true });
});
