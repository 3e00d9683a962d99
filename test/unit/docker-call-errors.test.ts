/**
 * Failed engine calls as the metrics see them (src/virt/docker/call-errors.ts): named by method
 * and path template, never by an id, and heard at the modem whatever the call.
 */
import { connect } from '../../src/virt/docker/client';
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
  test('when calls to an engine whose socket is missing fail, then each is heard once with its template, and not after unsubscribing', async () => {
    const docker = connect('unix:///nonexistent/novadock-metrics-test.sock');
    const listen = watchCallErrors(docker);
    const heard: EngineCallError[] = [];
    const stop = listen((e) => heard.push(e));
    listen(() => {
      throw new Error('a listener that fails breaks no call');
    });

    await expect(docker.ping()).rejects.toThrow();
    await expect(docker.getContainer('novadock-some-server').inspect()).rejects.toMatchObject({ code: 'ENOENT' });
    expect(heard).toEqual([
      { operation: 'GET /_ping', code: 'ENOENT' },
      { operation: 'GET /containers/{id}/json', code: 'ENOENT' },
    ]);

    stop();
    await expect(docker.ping()).rejects.toThrow();
    expect(heard).toHaveLength(2);
  });
});
