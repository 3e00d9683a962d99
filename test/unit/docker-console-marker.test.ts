/**
 * The Docker console's PID marker (src/virt/docker/console.ts): the shell's first output is
 * `ESC ] novadock-console ; <pid> BEL`; it is taken out of the terminal's bytes however the
 * engine splits them into chunks, and output without it passes unchanged.
 */
import { PassThrough } from 'node:stream';
import { MarkerStripper } from '../../src/virt/docker/console';

async function through(chunks: Buffer[]): Promise<{ out: string; pid: number | undefined }> {
  const s = new MarkerStripper();
  const sink = new PassThrough();
  let out = '';
  sink.on('data', (b: Buffer) => { out += b.toString('latin1'); });
  s.pipe(sink);
  for (const c of chunks) s.write(c);
  s.end();
  await new Promise((r) => sink.on('end', r));
  return { out, pid: s.pid };
}

const MARKED = Buffer.from('\x1b]novadock-console;4242\x07\r\nBusyBox v1.35.0 built-in shell (ash)\r\nEnter \'help\' for a list of built-in commands.\r\n\r\n/ # ');
const SHELL = MARKED.subarray(MARKED.indexOf(0x07) + 1).toString('latin1');

test('the marker and the banner in one chunk (longer than the marker limit): the PID is read, the marker removed', async () => {
  expect(await through([MARKED])).toEqual({ out: SHELL, pid: 4242 });
});

test.each([1, 2, 3, 7, 19, 25, 26, 27, 64])('chunks of %i bytes: the same', async (size) => {
  const chunks: Buffer[] = [];
  for (let i = 0; i < MARKED.length; i += size) chunks.push(MARKED.subarray(i, i + size));
  expect(await through(chunks)).toEqual({ out: SHELL, pid: 4242 });
});

test('output without the marker passes unchanged, with no PID', async () => {
  expect(await through([Buffer.from('/ # '), Buffer.from('echo hi\r\n')])).toEqual({ out: '/ # echo hi\r\n', pid: undefined });
  expect(await through([Buffer.from('\x1b[6n')])).toEqual({ out: '\x1b[6n', pid: undefined });
});

test('a marker never completed passes on as it came, once past the limit or at the end', async () => {
  const half = Buffer.from('\x1b]novadock-console;12');
  expect(await through([half])).toEqual({ out: half.toString('latin1'), pid: undefined });
  const long = Buffer.concat([Buffer.from('\x1b]novadock-console;'), Buffer.alloc(100, 0x31)]);
  expect(await through([long, Buffer.from('\x07rest')])).toEqual({ out: `${long.toString('latin1')}\x07rest`, pid: undefined });
});
