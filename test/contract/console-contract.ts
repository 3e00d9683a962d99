/**
 * The interactive console part of the ComputeDriver contract (openConsole, issue 15), run against
 * the FakeDriver (test/unit/fake-console-contract.test.ts) and the DockerDriver on a real engine
 * (test/docker/docker-console.test.ts). The terminal is driven the way a user's keystrokes would
 * drive it, and the harness says from outside the driver how many console shells still run.
 */
import crypto from 'node:crypto';
import type { Duplex } from 'node:stream';
import { ComputeDriver, ConsoleSession, InstanceNotFound, InstanceNotRunning, InstanceSpec } from '../../src/virt/driver';
import { eventually, idleCommand } from './driver-contract';

export interface ConsoleHarness {
  driver: ComputeDriver;
  /** Engine id of a loaded image with a /bin/sh (busybox, or the fake's). */
  imageRef: string;
  /** Console shells running in the instance now, seen from outside the driver (docker top; the fake's sessions). */
  shellsIn(serverId: string): Promise<number>;
  cleanup(): Promise<void>;
}

/** Collects what a terminal prints; `until` waits for a text to have appeared (after `from`). */
export class Screen {
  text = '';
  constructor(stream: Duplex) {
    stream.on('data', (b: Buffer) => { this.text += b.toString('utf8'); });
  }

  async until(needle: string | RegExp, from = 0): Promise<string> {
    return eventually(() => {
      const seen = this.text.slice(from);
      if (typeof needle === 'string' ? !seen.includes(needle) : !needle.test(seen)) throw new Error(`not on the screen yet: ${needle}; screen: ${JSON.stringify(seen.slice(-300))}`);
      return seen;
    }, 30_000);
  }
}

export function describeConsoleContract(name: string, make: () => Promise<ConsoleHarness>): void {
  describe(`ComputeDriver contract, console: ${name}`, () => {
    let h: ConsoleHarness;
    const spawned = new Set<string>();
    const sessions: ConsoleSession[] = [];

    const spawn = async (): Promise<string> => {
      const serverId = crypto.randomUUID();
      const spec: InstanceSpec = {
        serverId, projectId: `test-drv-${crypto.randomBytes(5).toString('hex')}`, hostname: 'console-vm', imageRef: h.imageRef,
        command: idleCommand('console-contract'), memoryMb: 64, vcpus: 1, env: {}, network: null,
      };
      spawned.add(serverId);
      await h.driver.spawn(spec);
      return serverId;
    };
    const open = async (serverId: string) => {
      const s = await h.driver.openConsole(serverId);
      sessions.push(s);
      return { session: s, screen: new Screen(s.stream) };
    };

    beforeAll(async () => {
      h = await make();
    });

    afterAll(async () => {
      if (!h) return;
      for (const s of sessions) await s.close().catch(() => undefined);
      for (const id of spawned) await h.driver.destroy(id).catch(() => undefined);
      await h.cleanup();
    });

    test('when a console is opened on a running instance, then typed commands run in a shell and their output comes back', async () => {
      const id = await spawn();
      const { session, screen } = await open(id);
      session.stream.write('echo hello-$((6*7))\n');
      // The echo of the line shows the expression; only a shell that ran it prints the result.
      await screen.until('hello-42');
      expect(screen.text).not.toContain('novadock-console');
      expect(await h.shellsIn(id)).toBe(1);
    });

    test('when the terminal is resized, then the shell sees the new size', async () => {
      const id = await spawn();
      const { session, screen } = await open(id);
      await screen.until('#');
      await session.resize(111, 33);
      const from = screen.text.length;
      session.stream.write('busybox stty size\n');
      await screen.until(/33 111/, from);
    });

    test('when the session is closed, then its shell ends and nothing of it is left in the instance', async () => {
      const id = await spawn();
      const { session, screen } = await open(id);
      session.stream.write('echo ready-$((1+1))\n');
      await screen.until('ready-2');
      await session.close();
      await expect(session.ended).resolves.toBeUndefined();
      await eventually(async () => expect(await h.shellsIn(id)).toBe(0));
      // The instance itself runs on.
      expect((await h.driver.getInfo(id)).powerState).toBe(1);
      await expect(session.close()).resolves.toBeUndefined();
    });

    test('when the shell exits by itself, then the session ends', async () => {
      const id = await spawn();
      const { session, screen } = await open(id);
      await screen.until('#');
      session.stream.write('exit\n');
      await expect(session.ended).resolves.toBeUndefined();
      await eventually(async () => expect(await h.shellsIn(id)).toBe(0));
    });

    test('when the instance is stopped, then its open console ends and no new one opens', async () => {
      const id = await spawn();
      const { session, screen } = await open(id);
      await screen.until('#');
      await h.driver.powerOff(id, 5);
      await expect(session.ended).resolves.toBeUndefined();
      await expect(h.driver.openConsole(id)).rejects.toBeInstanceOf(InstanceNotRunning);
    });

    test('when the server has no instance on the host, then InstanceNotFound', async () => {
      await expect(h.driver.openConsole(crypto.randomUUID())).rejects.toBeInstanceOf(InstanceNotFound);
    });

    test('two consoles on one instance are two shells', async () => {
      const id = await spawn();
      const a = await open(id);
      const b = await open(id);
      a.session.stream.write('echo from-a-$((2*3))\n');
      b.session.stream.write('echo from-b-$((3*3))\n');
      await a.screen.until('from-a-6');
      await b.screen.until('from-b-9');
      expect(a.screen.text).not.toContain('from-b-9');
      expect(await h.shellsIn(id)).toBe(2);
      await a.session.close();
      await eventually(async () => expect(await h.shellsIn(id)).toBe(1));
      await b.session.close();
    });
  });
}
