/**
 * Compute version documents (contract §4.1), served without a token as Nova does:
 *   GET /compute/      → {"versions": [v2.1 CURRENT]} (the legacy v2.0 API is not served, so not listed)
 *   GET /compute/v2.1  → {"version": {... "version": MAX_VERSION, "min_version": MIN_VERSION}}
 * openstacksdk and the nova CLI read `version`/`min_version` to negotiate; links must be
 * absolute and built from the public URL, because clients follow the `self` href.
 */
import { Router } from 'express';
import { MAX_VERSION, MIN_VERSION } from './microversion';

interface Link { rel: string; href: string; type?: string }

/** The v2.1 entry; `detail` adds what Nova shows only on the single-version document. */
export function v21Version(publicUrl: string, detail: boolean) {
  const links: Link[] = [{ rel: 'self', href: `${publicUrl}/compute/v2.1/` }];
  const doc: Record<string, unknown> = {
    id: 'v2.1',
    status: 'CURRENT',
    version: MAX_VERSION,
    min_version: MIN_VERSION,
    updated: '2013-07-23T11:33:21Z',
    links,
  };
  if (detail) {
    links.push({ rel: 'describedby', type: 'text/html', href: 'http://docs.openstack.org/' });
    doc['media-types'] = [{ base: 'application/json', type: 'application/vnd.openstack.compute+json;version=2.1' }];
  }
  return doc;
}

export function computeVersionsRouter(publicUrl: string): Router {
  const base = publicUrl.replace(/\/+$/, '');
  const router = Router();
  // NOTE(openstack): Nova answers the unversioned root with 200 (not 300); `openstack versions show`
  // requests it with a trailing slash, keystoneauth without. Non-strict routing serves both.
  router.get('/', (_req, res) => {
    // Only what is served is listed: clients (and Tempest) follow every self link.
    res.status(200).json({ versions: [v21Version(base, false)] });
  });
  router.get('/v2.1', (_req, res) => {
    res.status(200).json({ version: v21Version(base, true) });
  });
  return router;
}
