/** Keystone v3 subset (contract §3): version discovery and /v3/auth/tokens. */
import express, { Router } from 'express';
import { handle } from '../http/async';
import { errorHandler, notFoundHandler } from '../http/errors';
import type { TokenService } from './token-service';
import type { Logger } from 'pino';
import { unauthorized } from '../errors';

export function identityRouter(tokens: TokenService, publicUrl: string, log: Logger): Router {
  const r = Router();
  const base = `${publicUrl}/identity`;
  const v3 = {
    id: 'v3.14',
    status: 'stable',
    updated: '2020-04-07T00:00:00Z',
    links: [{ rel: 'self', href: `${base}/v3/` }],
    'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.identity-v3+json' }],
  };
  r.use(express.json({ limit: '64kb', type: () => true }));

  r.get(['/', ''], (_req, res) => { res.status(300).json({ versions: { values: [v3] } }); });
  r.get(['/v3', '/v3/'], (_req, res) => { res.json({ version: v3 }); });

  r.post('/v3/auth/tokens', handle(async (req, res) => {
    const issued = await tokens.issue(req.body);
    res.setHeader('X-Subject-Token', issued.token);
    res.status(201).json(issued.body);
  }));

  const subject = async (req: express.Request) => {
    const caller = req.header('x-auth-token');
    const subj = req.header('x-subject-token');
    if (!caller) throw unauthorized();
    await tokens.context(caller, req.id).catch(() => tokens.verify(caller));
    if (!subj) throw unauthorized('X-Subject-Token is required.');
    return subj;
  };
  r.get('/v3/auth/tokens', handle(async (req, res) => {
    const subj = await subject(req);
    const body = await tokens.validate(subj);
    res.setHeader('X-Subject-Token', subj);
    res.json(body);
  }));
  r.head('/v3/auth/tokens', handle(async (req, res) => {
    const subj = await subject(req);
    await tokens.validate(subj);
    res.status(200).end();
  }));
  r.delete('/v3/auth/tokens', handle(async (req, res) => {
    await tokens.revoke(await subject(req));
    res.status(204).end();
  }));

  r.use(notFoundHandler());
  r.use(errorHandler('identity', log, publicUrl));
  return r;
}
