/**
 * Failed engine calls as the metrics see them (src/virt/docker/call-errors.ts): named by method
 * and path template, never by an id, and heard at the modem whatever the call (a real engine's
 * 404 through the driver: test/docker/engine-errors.test.ts).
 */
import type Docker from 'dockerode';
import { codeOf, operationOf, watchCallErrors } from '../../src/virt/docker/call-errors';
import type { EngineCallError } from '../../src/virt/driver';

describe('operationOf', () => {
  test.each([
    ['POST', '/containers/novadock-0b7c5a5e-2f4c-4c4e-9d1c-1b2c3d4e5f60/start?', 'POST /containers/{id}/start'],
    ['GET', '/containers/abc/json', 'GET /containers/{id}/json'],
    ['DELETE', '/containers/abc?force=true', 'DELETE /containers/{id}'],
    ['POST', '/containers/create?name=novadock-x', 'POST /containers/create'],
    ['GET', '/containers/json?all=1', 'GET /containers/json'],
    ['GET', '/images/library/busybox:latest/json', 'GET /images/{id}/json'],
    ['POST', '/images/load?quiet=1', 'POST /images/load'],
    ['POST', '/networks/novadock-p1/connect', 'POST /networks/{id}/connect'],
    ['GET', '/_ping', 'GET /_ping'],
    ['GET', '/', 'GET /'],
  ])('%s %s is %s', (method, path, expected) => {
    expect(operationOf(method, path)).toBe(expected);
  });
});

describe('codeOf', () => {
  test('an engine answer is its status; a socket failure its code; anything else "error"', () => {
    expect(codeOf(Object.assign(new Error('no such container'), { statusCode: 404 }))).toBe('404');
    expect(codeOf(Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }))).toBe('ECONNREFUSED');
    expect(codeOf(Object.assign(new Error('aborted'), { name: 'AbortError' }))).toBe('ABORT_ERR');
    expect(codeOf(Object.assign(new Error('odd'), { code: 'a code with spaces that is not one' }))).toBe('error');
    expect(codeOf('a string')).toBe('error');
  });
});

describe('watchCallErrors', () => {
  /** A modem as docker-modem's contract has it: dial(options, callback(err, data)); this one fails every call but /_ping. */
  const fakeDocker = () => ({
    modem: {
      calls: 0,
      dial(options: { method: string; path: string }, callback: (err: unknown, data: unknown) => void) {
        this.calls++;
        if (options.path === '/_ping') callback(null, 'OK');
        else if (options.path.startsWith('/containers/')) callback(Object.assign(new Error('no such container'), { statusCode: 404 }), null);
        else callback(Object.assign(new Error('connect ENOENT'), { code: 'ENOENT' }), null);
      },
    },
  });
  const dial = (d: ReturnType<typeof fakeDocker>, method: string, path: string) =>
    new Promise((resolve, reject) => d.modem.dial({ method, path }, (err, data) => (err ? reject(err) : resolve(data))));

  test('when calls fail, then each is heard once with its template and code, answers pass through unchanged, and nothing is heard after unsubscribing', async () => {
    const docker = fakeDocker();
    const listen = watchCallErrors(docker as unknown as Docker);
    const heard: EngineCallError[] = [];
    const stop = listen((e) => heard.push(e));
    listen(() => {
      throw new Error('a listener that fails breaks no call');
    });

    await expect(dial(docker, 'GET', '/_ping')).resolves.toBe('OK');
    await expect(dial(docker, 'GET', '/containers/novadock-some-server/json')).rejects.toMatchObject({ statusCode: 404 });
    await expect(dial(docker, 'POST', '/images/load?quiet=1')).rejects.toMatchObject({ code: 'ENOENT' });
    expect(heard).toEqual([
      { operation: 'GET /containers/{id}/json', code: '404' },
      { operation: 'POST /images/load', code: 'ENOENT' },
    ]);
    expect(docker.modem.calls).toBe(3);

    stop();
    await expect(dial(docker, 'GET', '/containers/x/json')).rejects.toThrow();
    expect(heard).toHaveLength(2);
  });
});
