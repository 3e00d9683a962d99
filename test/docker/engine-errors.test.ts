/**
 * Failed engine calls reach the metrics (issue 18) from the real engine: a call the engine
 * answers 404 is heard with its path template and status, whatever the driver then makes of it;
 * and an engine event carries the engine's own time (the reconciler's lag is measured from it).
 */
import crypto from 'node:crypto';
import pino from 'pino';
import { DockerDriver } from '../../src/virt/docker/driver';
import { toInstanceEvent } from '../../src/virt/docker/events';
import { EngineCallError, InstanceNotFound } from '../../src/virt/driver';
import { LABEL_HOST, LABEL_MANAGED, LABEL_SERVER } from '../../src/virt/docker/labels';

test('when the engine answers 404 for an instance, then getInfo is InstanceNotFound and the failed call is heard as GET /containers/{id}/json 404', async () => {
  const driver = new DockerDriver({ host: 'metrics-host', log: pino({ level: 'silent' }) });
  const heard: EngineCallError[] = [];
  const stop = driver.onEngineError((e) => heard.push(e));
  try {
    await expect(driver.getInfo(crypto.randomUUID())).rejects.toBeInstanceOf(InstanceNotFound);
    expect(heard).toContainEqual({ operation: 'GET /containers/{id}/json', code: '404' });
    expect(heard.every((e) => !/[0-9a-f]{8}-[0-9a-f]{4}/.test(e.operation))).toBe(true);
  } finally {
    stop();
  }
});

test('an engine event message gives its time in ms from timeNano, else from time', () => {
  const attrs = { [LABEL_MANAGED]: 'true', [LABEL_HOST]: 'h', [LABEL_SERVER]: 's1' };
  const msg = { Type: 'container', Action: 'die', Actor: { Attributes: attrs }, time: 1_700_000_000, timeNano: 1_700_000_000_123_456_789 };
  expect(toInstanceEvent(msg, 'h')?.time).toBeCloseTo(1_700_000_000_123.456, 0);
  expect(toInstanceEvent({ ...msg, timeNano: undefined }, 'h')?.time).toBe(1_700_000_000_000);
});
