/**
 * Compute version documents (contract §4.1), served without a token as Nova does:
 *   GET /compute/      → {"versions": [v2.0 SUPPORTED, v2.1 CURRENT]} (Tempest wants v2.0 first)
 *   GET /compute/v2    → {"version": {v2.0}} — its document only: the legacy v2.0 API itself is not served
 *   GET /compute/v2.1  → {"version": {... "version": MAX_VERSION, "min_version": MIN_VERSION}}
 * openstacksdk and the nova CLI read `version`/`min_version` to negotiate; links must be
 * absolute and built from the public URL, because clients follow the `self` href.
 */
import { Router } from 'express';
import { MAX_VERSION, MIN_VERSION } from '../microversion';

interface Link { rel: string; href: string; type?: string }

/** Nova's two version entries; `detail` adds what Nova shows only on the single-version document. */
const VERSIONS = {
  'v2.0': { path: 'v2', status: 'SUPPORTED', version: '', min_version: '', updated: '2011-01-21T11:33:21Z', mediaType: 'application/vnd.openstack.compute+json;version=2' },
  'v2.1': { path: 'v2.1', status: 'CURRENT', version: MAX_VERSION, min_version: MIN_VERSION, updated: '2013-07-23T11:33:21Z', mediaType: 'application/vnd.openstack.compute+json;version=2.1' },
} as const;

function versionDoc(publicUrl: string, id: keyof typeof VERSIONS, detail: boolean) {
  const v = VERSIONS[id];
  const links: Link[] = [{ rel: 'self', href: `${publicUrl}/compute/${v.path}/` }];
  const doc: Record<string, unknown> = { id, status: v.status, version: v.version, min_version: v.min_version, updated: v.updated, links };
  if (detail) {
    links.push({ rel: 'describedby', type: 'text/html', href: 'http://docs.openstack.org/' });
    doc['media-types'] = [{ base: 'application/json', type: v.mediaType }];
  }
  return doc;
}

export const v21Version = (publicUrl: string, detail: boolean) => versionDoc(publicUrl, 'v2.1', detail);

export function computeVersionsRouter(publicUrl: string): Router {
  const base = publicUrl.replace(/\/+$/, '');
  const router = Router();
  // NOTE(openstack): Nova answers the unversioned root with 200 (not 300); `openstack versions show`
  // requests it with a trailing slash, keystoneauth without. Non-strict routing serves both.
  router.get('/', (_req, res) => {
    // NOTE(openstack): Tempest's test_list_api_versions wants v2.0 first, and
    // test_get_version_details follows every self link, so v2.0's document is served too.
    res.status(200).json({ versions: [versionDoc(base, 'v2.0', false), versionDoc(base, 'v2.1', false)] });
  });
  router.get('/v2', (_req, res) => {
    res.status(200).json({ version: versionDoc(base, 'v2.0', true) });
  });
  router.get('/v2.1', (_req, res) => {
    res.status(200).json({ version: v21Version(base, true) });
  });
  return router;
}
