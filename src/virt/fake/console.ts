/**
 * The fake's interactive console (ComputeDriver.openConsole): a tiny shell on a simulated
 * terminal. Like a TTY it echoes what is typed (a newline as CR LF) and, at each line, runs it:
 *
 *   echo WORDS         prints WORDS, with $((a op b)) worked out (+ - * /)
 *   stty size          prints "<rows> <cols>" (also `busybox stty size`)
 *   exit, or Ctrl-D    on an empty line: the shell ends
 *   anything else      "sh: <cmd>: not found"
 *
 * Every session of an instance ends when the instance stops or is removed, as the engine's
 * exec processes end with their container.
 */
import { Duplex } from 'node:stream';
import { ConsoleSession, InstanceNotRunning } from '../driver';

const PROMPT = '/ # ';
/** How long a resize takes to apply (an engine call's round trip). */
const RESIZE_ROUND_TRIP_MS = 20;
const EOT = 0x04;

/** One fake shell session. */
class FakeShell implements ConsoleSession {
  readonly stream: Duplex;
  readonly ended: Promise<void>;
  cols = 80;
  rows = 24;
  /** Every line the shell ran (for assertions). */
  readonly lines: string[] = [];
  private line = '';
  private finished = false;
  private finish!: () => void;

  constructor(private readonly onEnd: (s: FakeShell) => void) {
    this.ended = new Promise<void>((r) => { this.finish = r; });
    this.stream = new Duplex({
      read: () => undefined,
      write: (chunk: Buffer, _enc, done) => {
        this.input(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
        done();
      },
      final: (done) => {
        this.end();
        done();
      },
    });
    this.stream.on('error', () => undefined);
    this.print(PROMPT);
  }

  get open(): boolean {
    return !this.finished;
  }

  /** Takes effect a moment later, as the engine's resize call answers after a round trip. */
  async resize(cols: number, rows: number): Promise<void> {
    if (this.finished) throw new Error('the console session has ended');
    await new Promise((r) => setTimeout(r, RESIZE_ROUND_TRIP_MS));
    this.cols = cols;
    this.rows = rows;
  }

  async close(): Promise<void> {
    this.end();
    await this.ended;
  }

  end(): void {
    if (this.finished) return;
    this.finished = true;
    this.stream.push(null);
    this.onEnd(this);
    this.finish();
  }

  private print(text: string): void {
    if (!this.finished) this.stream.push(Buffer.from(text));
  }

  private input(bytes: Buffer): void {
    for (const b of bytes) {
      if (this.finished) return;
      if (b === EOT && this.line === '') {
        this.end();
      } else if (b === 0x0a || b === 0x0d) {
        this.print('\r\n');
        const line = this.line;
        this.line = '';
        this.run(line.trim());
      } else {
        this.line += String.fromCharCode(b);
        this.print(String.fromCharCode(b));
      }
    }
  }

  private run(line: string): void {
    if (line === '') return this.print(PROMPT);
    this.lines.push(line);
    if (line === 'exit' || line.startsWith('exit ')) return this.end();
    const echo = /^echo(?:\s+(.*))?$/.exec(line);
    if (echo) return this.print(`${arith(echo[1] ?? '')}\r\n${PROMPT}`);
    if (/^(busybox\s+)?stty\s+size$/.test(line)) return this.print(`${this.rows} ${this.cols}\r\n${PROMPT}`);
    this.print(`sh: ${line.split(/\s+/)[0]}: not found\r\n${PROMPT}`);
  }
}

/** The shell's arithmetic expansion, for the four operators on integers. */
function arith(text: string): string {
  return text.replace(/\$\(\(\s*(-?\d+)\s*([-+*/])\s*(-?\d+)\s*\)\)/g, (_m, a: string, op: string, b: string) => {
    const x = Number(a);
    const y = Number(b);
    const v = op === '+' ? x + y : op === '-' ? x - y : op === '*' ? x * y : Math.trunc(x / y);
    return String(v);
  });
}

/** The console sessions of one fake engine. */
export class FakeConsoles {
  private readonly sessions = new Map<string, Set<FakeShell>>();

  /** Opens a shell in a running instance (`running` as the driver sees it). */
  open(serverId: string, running: boolean): FakeShell {
    if (!running) throw new InstanceNotRunning(serverId);
    const set = this.sessions.get(serverId) ?? new Set<FakeShell>();
    this.sessions.set(serverId, set);
    const shell = new FakeShell((s) => {
      set.delete(s);
      if (set.size === 0 && this.sessions.get(serverId) === set) this.sessions.delete(serverId);
    });
    set.add(shell);
    return shell;
  }

  /** The instance stopped or went: its shells end. */
  endAll(serverId: string): void {
    for (const s of [...(this.sessions.get(serverId) ?? [])]) s.end();
  }

  /** Shells still running in the instance (for assertions). */
  live(serverId: string): FakeShell[] {
    return [...(this.sessions.get(serverId) ?? [])];
  }
}
