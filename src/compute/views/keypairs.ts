/**
 * Wire shapes of key pairs per microversion (nova/api/openstack/compute/keypairs.py _view_*):
 * 2.2 adds `type`; show carries Nova's database columns (deleted, created_at…); the list wraps
 * each item in {"keypair": …} and, from 2.35, pages with `keypairs_links`.
 */
import { isoMicros } from '../../http/wire-time';
import type { Request } from 'express';
import type { KeypairRecord } from '../../db/keypair-repo';
import { Mv, nextPageLinks } from './common';

function withType(mv: Mv, v: Record<string, unknown>, k: KeypairRecord) {
  if (mv('2.2')) v.type = k.type;
  return v;
}

/** The answer to create: the private key only when one was generated. */
export function keypairCreatedView(mv: Mv, k: KeypairRecord, privateKey?: string) {
  const v: Record<string, unknown> = { name: k.name, public_key: k.public_key, fingerprint: k.fingerprint, user_id: k.user_id };
  withType(mv, v, k);
  if (privateKey !== undefined) v.private_key = privateKey;
  return { keypair: v };
}

/** GET /os-keypairs/{name}. */
export function keypairView(mv: Mv, k: KeypairRecord) {
  return {
    keypair: withType(mv, {
      public_key: k.public_key,
      name: k.name,
      fingerprint: k.fingerprint,
      user_id: k.user_id,
      deleted: false,
      created_at: isoMicros(k.created_at),
      updated_at: null,
      deleted_at: null,
      id: k.id,
    }, k),
  };
}

function listItem(mv: Mv, k: KeypairRecord) {
  return { keypair: withType(mv, { name: k.name, public_key: k.public_key, fingerprint: k.fingerprint }, k) };
}

/** GET /os-keypairs; `paged` (2.35) adds the "next" link of a full page. */
export function keypairListView(mv: Mv, publicUrl: string, list: KeypairRecord[], paged: boolean, query: Request['query']) {
  const body: Record<string, unknown> = { keypairs: list.map((k) => listItem(mv, k)) };
  if (paged) {
    const links = nextPageLinks(publicUrl, 'os-keypairs', query, list.length, list[list.length - 1]?.name);
    if (links.length) body.keypairs_links = links;
  }
  return body;
}
