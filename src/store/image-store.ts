/**
 * ImageStore: where image bytes live (a directory on disk; a Map in tests), modelled on
 * glance_store. Writes are all-or-nothing: bytes land under a temporary name and become the
 * image's data only on commit, so an aborted upload leaves nothing.
 */
import type { Readable, Writable } from 'node:stream';

/** The file a store on disk is writing: a reader may follow the write there. */
export interface StoreFile {
  readonly path: string;
  /** Written past the page cache (O_DIRECT): a reader following the write should read past it too. */
  readonly direct: boolean;
  /** `fn` is told how many bytes are in the file (in order) each time that grows. */
  onWritten(fn: (bytes: number) => void): void;
}

export interface PendingWrite {
  /** Stream the bytes in here. */
  readonly sink: Writable;
  /** For a store on disk, the file the sink writes. */
  readonly file?: StoreFile;
  /** Make the bytes the image's data (atomic rename). Call after sink finished. */
  commit(): Promise<void>;
  /** Throw the bytes away; safe to call more than once and after a failed write. */
  abort(): Promise<void>;
}

export interface ImageStore {
  /** Starts writing the data of an image. */
  begin(imageId: string): Promise<PendingWrite>;
  /** Streams the stored data; throws if there is none. */
  read(imageId: string): Promise<Readable>;
  /**
   * Streams `length` bytes of the stored data from byte `start` (a blob inside a stored archive,
   * an HTTP Range); throws if there is no data or the range goes past its end.
   */
  readRange(imageId: string, start: number, length: number): Promise<Readable>;
  has(imageId: string): Promise<boolean>;
  size(imageId: string): Promise<number | undefined>;
  /** Removes the data; absent is success. */
  delete(imageId: string): Promise<void>;
  /** Ids of every stored image (for start-up checks). */
  list(): Promise<string[]>;
  /**
   * Removes temporary files left by a crash: all of them, or those of images not in `inUse()`
   * (the uploads live processes are still writing, when several share the store).
   */
  sweepPartials(inUse?: () => Promise<Set<string>>): Promise<void>;
}

/** Throws a RangeError unless [start, start + length) lies within data of `size` bytes. */
export function checkRange(imageId: string, start: number, length: number, size: number): void {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(length) || start < 0 || length < 0 || start + length > size) {
    throw new RangeError(`bytes ${start}+${length} are outside the ${size} bytes of image ${imageId}`);
  }
}
