/**
 * What a FakeDriver is made with: the calls it knows by name (for delays and injected failures),
 * the simulated process of an instance, and the options (src/virt/fake/driver.ts).
 */
import type { HypervisorInfo, InstanceSpec } from '../driver';
import type { MoveOp } from './moves';

/** Every driver call, by name, for delays and injected failures. */
export type FakeOp =
  | 'ping' | 'hasImage' | 'loadImage' | 'removeImage' | 'exportImage'
  | 'spawn' | 'destroy' | 'powerOff' | 'powerOn' | 'reboot' | 'pause' | 'unpause' | 'suspend' | 'resume'
  | 'getInfo' | 'getConsoleOutput' | 'snapshot' | 'listInstances' | 'hypervisorInfo' | MoveOp
  | 'diagnostics' | 'resizeInstance' | 'openConsole' | 'pullImage'
  | 'attachInterface' | 'detachInterface' | 'removeNetwork';

/** What an instance's process does when it starts, in the fake's world. */
export interface FakeProgram {
  /** Lines it prints to its console on every start. */
  output?: string[];
  /** Set when it exits at once with this code (a spawn then fails, a start ends stopped). */
  exitCode?: number;
}

export interface FakeDriverOptions {
  /** Compute host name. */
  host: string;
  /**
   * The simulated process of an instance. Default: prints one "starting" line and runs forever.
   * A program that exits at once makes spawn fail the way the Docker driver does.
   */
  program?: (spec: InstanceSpec) => FakeProgram;
  /** Returns a reason to make this spawn fail (SpawnFailed(reason)); nothing is left behind. */
  failSpawn?: (spec: InstanceSpec) => string | undefined;
  /** Returns an error to throw from this call instead of doing it (checked after `unavailable`). */
  failOn?: (op: FakeOp, serverId?: string) => Error | undefined;
  /** Start as an engine that does not answer: every call throws HypervisorUnavailable. */
  unavailable?: boolean;
  /** Milliseconds each call waits before doing its work (to hold operations in flight). */
  delays?: Partial<Record<FakeOp, number>>;
  /** Awaited at the start of every call: a deterministic way to hold a call in flight. */
  beforeCall?: (op: FakeOp, serverId?: string) => void | Promise<void>;
  /** Engine ids of images present from the start (no archive bytes: exportImage fails for them). */
  images?: string[];
  /** Largest archive loadImage accepts (bytes). Default 1 GiB. */
  maxImageBytes?: number;
  /** Overrides for hypervisorInfo(). */
  hypervisor?: Partial<HypervisorInfo>;
}
