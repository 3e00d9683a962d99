/** Keystone v3 subset (contract §3): version discovery, /v3/auth/tokens, and reading projects. */
import express, { Router } from 'express';
import { handle } from '../http/async';
import { errorHandler, notFoundHandler } from '../http/errors';
import type { TokenService } from './token-service';
import type { Logger } from 'pino';
import { unauthorized } from '../errors';
import { queryParam } from '../http/query';
import { ProjectDirectory, projectView } from './projects';
import type { IdentityDirectory } from './directory';
import { boolParam, identityDirectoryRouter } from './directory-router';

export function identityRouter(tokens: TokenService, publicUrl: string, log: Logger, projects?: ProjectDirectory, directory?: IdentityDirectory): Router {
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

  if (projects) {
    const caller = async (req: express.Request) => {
      const token = req.header('x-auth-token');
      if (!token) throw unauthorized();
      return tokens.context(token, req.id);
    };
    r.get('/v3/projects', handle(async (req, res) => {
      const list = await projects.list(await caller(req), {
        name: queryParam(req, 'name'), domainId: queryParam(req, 'domain_id'), enabled: boolParam(req, 'enabled'), isDomain: boolParam(req, 'is_domain'),
      });
      res.json({ projects: list.map((p) => projectView(base, p)), links: { self: `${base}/v3/projects`, previous: null, next: null } });
    }));
    r.get('/v3/projects/:id', handle(async (req, res) => {
      res.json({ project: projectView(base, await projects.get(await caller(req), String(req.params.id))) });
    }));
  }

  // Users, domains, roles, role assignments and a token's scopes (the dashboard's calls); writes 403.
  if (directory) r.use(identityDirectoryRouter(directory, publicUrl));

  r.use(notFoundHandler());
  r.use(errorHandler('identity', log, publicUrl));
  return r;
}
