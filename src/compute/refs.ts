/** How the Compute API names things in requests: ids and id-or-URL references. */

/** A UUID, with or without dashes (Nova accepts both): one pattern, kept with the request validators. */
export { UUID_RE } from '../http/validation';

/** The last path segment of an id-or-URL reference (Nova's common.get_id_from_href). */
export function idFromHref(ref: string): string {
  const noQuery = ref.split('?')[0].replace(/\/+$/, '');
  return noQuery.slice(noQuery.lastIndexOf('/') + 1);
}
