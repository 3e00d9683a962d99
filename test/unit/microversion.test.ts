/**
 * Microversion negotiation as Nova does it (wsgi.Request.set_api_version_request):
 * which header wins, "latest", malformed and out-of-range versions, and the response headers.
 */
import express from 'express';
import request from 'supertest';
import pino from 'pino';
import {
  apiVersionMiddleware, atLeast, atMost, compareVersions, MAX_VERSION, MIN_VERSION, parseVersion, requestedVersion,
} from '../../src/compute/microversion';
import { errorHandler } from '../../src/http/errors';

/** An app that answers with the version the middleware resolved. */
function app() {
  const a = express();
  a.use(apiVersionMiddleware());
  a.get('/', (req, res) => {
    res.json({ version: req.apiVersion, is253: atLeast(req, '2.53'), upTo235: atMost(req, '2.35') });
  });
  a.use(errorHandler('compute', pino({ level: 'silent' }), 'http://h'));
  return a;
}

describe('parseVersion', () => {
  it.each([
    ['2.1', { major: 2, minor: 1 }],
    ['2.0', { major: 2, minor: 0 }],
    ['2.92', { major: 2, minor: 92 }],
    ['10.100', { major: 10, minor: 100 }],
  ])('reads %s as major.minor', (text, expected) => {
    expect(parseVersion(text)).toEqual(expected);
  });

  it.each(['2', '2.', '.1', '2.01', '02.1', '2.1.1', 'v2.1', 'two.one', '', ' 2.1', '2.-1'])(
    'refuses %j with Nova\'s invalid-format message', (text) => {
      expect(() => parseVersion(text)).toThrow(`API Version String ${text} is of invalid format. Must be of format MajorNum.MinorNum.`);
    },
  );

  it('orders versions numerically, not as text', () => {
    expect(compareVersions(parseVersion('2.10'), parseVersion('2.9'))).toBeGreaterThan(0);
    expect(compareVersions(parseVersion('2.9'), parseVersion('2.10'))).toBeLessThan(0);
    expect(compareVersions(parseVersion('2.9'), parseVersion('2.9'))).toBe(0);
  });
});

describe('requestedVersion', () => {
  it('takes the compute entry of OpenStack-API-Version among other services', () => {
    expect(requestedVersion({ 'openstack-api-version': 'placement 1.10, compute 2.60' })).toBe('2.60');
  });

  it('prefers OpenStack-API-Version over the legacy header', () => {
    expect(requestedVersion({ 'openstack-api-version': 'compute 2.30', 'x-openstack-nova-api-version': '2.5' })).toBe('2.30');
  });

  it('falls back to the legacy header when the new one names no compute version', () => {
    expect(requestedVersion({ 'openstack-api-version': 'placement 1.10', 'x-openstack-nova-api-version': '2.5' })).toBe('2.5');
  });

  it('is undefined when neither header is present', () => {
    expect(requestedVersion({})).toBeUndefined();
  });
});

describe('apiVersionMiddleware', () => {
  it('gives 2.1 when no header is sent, and says so in the response headers', async () => {
    const res = await request(app()).get('/');
    expect(res.status).toBe(200);
    expect(res.body.version).toEqual({ major: 2, minor: 1 });
    expect(res.headers['openstack-api-version']).toBe('compute 2.1');
    expect(res.headers['x-openstack-nova-api-version']).toBe('2.1');
    expect(res.headers.vary).toMatch(/OpenStack-API-Version/);
    expect(res.headers.vary).toMatch(/X-OpenStack-Nova-API-Version/);
  });

  it('uses the legacy header that novaclient sends below 2.27', async () => {
    const res = await request(app()).get('/').set('X-OpenStack-Nova-API-Version', '2.47');
    expect(res.body.version).toEqual({ major: 2, minor: 47 });
    expect(res.headers['openstack-api-version']).toBe('compute 2.47');
    expect(res.headers['x-openstack-nova-api-version']).toBe('2.47');
  });

  it('lets OpenStack-API-Version win over the legacy header', async () => {
    const res = await request(app()).get('/').set('OpenStack-API-Version', 'compute 2.61').set('X-OpenStack-Nova-API-Version', '2.3');
    expect(res.body.version).toEqual({ major: 2, minor: 61 });
    expect(res.body.is253).toBe(true);
    expect(res.body.upTo235).toBe(false);
  });

  it('reads "latest" as the advertised maximum', async () => {
    const res = await request(app()).get('/').set('OpenStack-API-Version', 'compute latest');
    expect(res.headers['openstack-api-version']).toBe(`compute ${MAX_VERSION}`);
    expect(res.body.version).toEqual(parseVersion(MAX_VERSION));
  });

  it('accepts the bounds themselves', async () => {
    for (const v of [MIN_VERSION, MAX_VERSION]) {
      const res = await request(app()).get('/').set('X-OpenStack-Nova-API-Version', v);
      expect(res.status).toBe(200);
      expect(res.headers['x-openstack-nova-api-version']).toBe(v);
    }
  });

  it('answers a malformed version with 400 badRequest in Nova\'s words, headers still set', async () => {
    const res = await request(app()).get('/').set('OpenStack-API-Version', 'compute 2.x');
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ badRequest: { code: 400, message: 'API Version String 2.x is of invalid format. Must be of format MajorNum.MinorNum.' } });
    expect(res.headers['openstack-api-version']).toBe('compute 2.1');
    expect(res.headers.vary).toMatch(/OpenStack-API-Version/);
    expect(res.headers.vary).toMatch(/X-OpenStack-Nova-API-Version/);
  });

  it('answers a version above the maximum with 406 computeFault naming the range', async () => {
    const res = await request(app()).get('/').set('OpenStack-API-Version', 'compute 2.93');
    expect(res.status).toBe(406);
    expect(res.body).toEqual({ computeFault: { code: 406, message: `Version 2.93 is not supported by the API. Minimum is ${MIN_VERSION} and maximum is ${MAX_VERSION}.` } });
    expect(res.headers['openstack-api-version']).toBe('compute 2.93');
  });

  it('answers a version below the minimum with 406', async () => {
    const res = await request(app()).get('/').set('X-OpenStack-Nova-API-Version', '2.0');
    expect(res.status).toBe(406);
    expect(res.body.computeFault.message).toBe(`Version 2.0 is not supported by the API. Minimum is ${MIN_VERSION} and maximum is ${MAX_VERSION}.`);
  });

  it('answers "compute" without a version as malformed', async () => {
    const res = await request(app()).get('/').set('OpenStack-API-Version', 'compute');
    expect(res.status).toBe(400);
    expect(res.body.badRequest.message).toMatch(/is of invalid format/);
  });
});

describe('atLeast / atMost', () => {
  it('treat a request the middleware never saw as 2.1', () => {
    expect(atLeast({}, '2.1')).toBe(true);
    expect(atLeast({}, '2.2')).toBe(false);
    expect(atMost({}, '2.35')).toBe(true);
  });

  it('compare minor versions numerically', () => {
    const req = { apiVersion: { major: 2, minor: 10 } };
    expect(atLeast(req, '2.9')).toBe(true);
    expect(atLeast(req, '2.10')).toBe(true);
    expect(atLeast(req, '2.11')).toBe(false);
  });
});
