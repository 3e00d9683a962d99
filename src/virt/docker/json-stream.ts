/**
 * The engine streams JSON messages (events, image-load progress) one after another, usually
 * newline-separated but split across TCP chunks anywhere — even inside a multi-byte character.
 * This splitter finds whole top-level objects by tracking depth outside strings, so it needs
 * no separator and never parses half a message.
 */
import { StringDecoder } from 'node:string_decoder';

export class JsonObjectSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private buf = '';
  private depth = 0;
  private inString = false;
  private escaped = false;
  private start = -1;
  /** Scan position in buf (so each character is looked at once). */
  private pos = 0;

  /** Bounds one message (the engine's are small); a runaway stream fails instead of growing forever. */
  constructor(private readonly maxMessageBytes = 1 << 20) {}

  /** Feeds a chunk; returns the objects it completed (malformed ones are skipped). */
  push(chunk: Buffer | string): unknown[] {
    this.buf += typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    const out: unknown[] = [];
    for (; this.pos < this.buf.length; this.pos++) {
      const c = this.buf[this.pos];
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === '\\') this.escaped = true;
        else if (c === '"') this.inString = false;
        continue;
      }
      if (c === '"') {
        if (this.depth > 0) this.inString = true;
      } else if (c === '{') {
        if (this.depth === 0) this.start = this.pos;
        this.depth++;
      } else if (c === '}' && this.depth > 0) {
        this.depth--;
        if (this.depth === 0) {
          const text = this.buf.slice(this.start, this.pos + 1);
          try {
            out.push(JSON.parse(text));
          } catch {
            /* not JSON after all: skip it */
          }
          this.buf = this.buf.slice(this.pos + 1);
          this.pos = -1;
          this.start = -1;
        }
      }
    }
    if (this.depth === 0) {
      // Only separators (or garbage between objects) are left.
      this.buf = '';
      this.pos = 0;
    } else if (this.buf.length > this.maxMessageBytes) {
      throw new Error(`the engine sent a message larger than ${this.maxMessageBytes} bytes`);
    }
    return out;
  }
}
