/**
 * Glance's request rules as pure functions: create bodies, JSON-patch (both media types),
 * and the list query (filters, sort, paging).
 */
import { DomainError } from '../../src/errors';
import { statusOf } from '../../src/http/errors';
import type { ImageRecord } from '../../src/image/image-record';
import { applyPatch, parseCreate, parsePatch, Requester } from '../../src/image/requests';
import { compareImages, parseListQuery, splitInValues } from '../../src/image/list-query';
import { canTransition, transitionMessage } from '../../src/image/image-status';

const member: Requester = { projectId: 'p-demo', isAdmin: false };
const admin: Requester = { projectId: 'p-admin', isAdmin: true };

function image(over: Partial<ImageRecord> = {}): ImageRecord {
  return {
    id: '11111111-1111-4111-8111-111111111111', name: 'cirros', status: 'queued', visibility: 'shared', protected: false, os_hidden: false,
    checksum: null, os_hash_algo: null, os_hash_value: null, owner: 'p-demo', size: null, virtual_size: null,
    container_format: 'bare', disk_format: 'raw', min_ram: 0, min_disk: 0, engine_image_id: null,
    properties: { foo: 'bar' }, tags: ['a'], created_at: '2026-01-01T10:00:00.000Z', updated_at: '2026-01-01T10:00:00.000Z',
    ...over,
  };
}

/** The error fn throws, with the HTTP status the API would answer with. */
function apiError(fn: () => unknown): DomainError & { status: number } {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DomainError);
    return Object.assign(e as DomainError, { status: statusOf(e as DomainError) });
  }
  throw new Error('no error was thrown');
}

describe('creating an image', () => {
  it('splits core attributes from custom string properties, defaulting to shared and the caller as owner', () => {
    const n = parseCreate({ name: 'x', container_format: 'docker', disk_format: 'raw', 'owner_specified.openstack.md5': '', a: 'b', tags: ['t', 't'] }, member);
    expect(n).toMatchObject({ name: 'x', visibility: 'shared', owner: 'p-demo', container_format: 'docker', tags: ['t'], properties: { 'owner_specified.openstack.md5': '', a: 'b' } });
  });

  it.each(['status', 'checksum', 'size', 'virtual_size', 'created_at', 'updated_at', 'self', 'file', 'schema', 'os_hash_algo', 'os_hash_value', 'direct_url', 'docker_image_id'])(
    'refuses the read-only attribute %s with 403',
    (key) => {
      const e = apiError(() => parseCreate({ name: 'x', [key]: 'v' }, member));
      expect([e.status, e.message]).toEqual([403, `Attribute '${key}' is read-only.`]);
    },
  );

  it.each(['location', 'deleted', 'deleted_at', 'os_glance_importing_to_stores'])('refuses the reserved attribute %s with 403', (key) => {
    const e = apiError(() => parseCreate({ [key]: 'v' }, member));
    expect([e.status, e.message]).toEqual([403, `Attribute '${key}' is reserved.`]);
  });

  it('refuses formats outside the enums, a non-UUID id, a long name and non-string properties with 400', () => {
    expect(apiError(() => parseCreate({ container_format: 'wrong' }, member)).status).toBe(400);
    expect(apiError(() => parseCreate({ disk_format: 'exe' }, member)).status).toBe(400);
    expect(apiError(() => parseCreate({ id: 'not-a-uuid' }, member)).status).toBe(400);
    expect(apiError(() => parseCreate({ name: 'n'.repeat(256) }, member)).status).toBe(400);
    expect(apiError(() => parseCreate({ foo: 5 }, member)).message).toMatch(/foo.*not of type 'string'/);
    expect(apiError(() => parseCreate({ foo: null }, member)).status).toBe(400);
    expect(apiError(() => parseCreate({ min_ram: -1 }, member)).status).toBe(400);
    expect(apiError(() => parseCreate(['not', 'an', 'object'], member)).status).toBe(400);
  });

  it('lets only admins publicize an image (Glance publicize_image = role:admin), but members may make it community', () => {
    expect(apiError(() => parseCreate({ visibility: 'public' }, member)).message).toBe('You are not authorized to complete publicize_image action.');
    expect(parseCreate({ visibility: 'public' }, admin).visibility).toBe('public');
    expect(parseCreate({ visibility: 'community' }, member).visibility).toBe('community');
  });

  it('lets only admins create images owned by another project', () => {
    expect(apiError(() => parseCreate({ owner: 'p-other' }, member)).status).toBe(403);
    expect(parseCreate({ owner: 'p-demo' }, member).owner).toBe('p-demo');
    expect(parseCreate({ owner: 'p-other' }, admin).owner).toBe('p-other');
  });

  it('refuses more than 128 properties or tags with 413', () => {
    const props = Object.fromEntries(Array.from({ length: 129 }, (_, i) => [`k${i}`, 'v']));
    expect(apiError(() => parseCreate(props, member)).status).toBe(413);
    expect(apiError(() => parseCreate({ tags: Array.from({ length: 129 }, (_, i) => `t${i}`) }, member)).status).toBe(413);
  });
});

describe('patching an image', () => {
  const patch = (body: unknown, draft: 4 | 10 = 10, img = image(), who = member) => applyPatch(img, parsePatch(body), draft, who);

  it('v2.1: add sets a new or existing property and core attribute; only what changed is returned', () => {
    expect(patch([{ op: 'add', path: '/foo', value: 'baz' }, { op: 'add', path: '/hw_x', value: '1' }, { op: 'add', path: '/name', value: 'cirros2' }, { op: 'add', path: '/tags', value: ['t1'] }]))
      .toEqual({ name: 'cirros2', tags: ['t1'], properties: { foo: 'baz', hw_x: '1' } });
  });

  it('v2.0: add of a present attribute is 409 "Property x already present."', () => {
    expect(apiError(() => patch([{ add: '/foo', value: 'x' }], 4)).message).toBe('Property foo already present.');
    expect(apiError(() => patch([{ add: '/name', value: 'x' }], 4)).status).toBe(409);
    expect(patch([{ add: '/new', value: 'x' }], 4)).toEqual({ properties: { foo: 'bar', new: 'x' } });
  });

  it("understands Glance's old op form: [{\"replace\": \"/name\", \"value\": \"x\"}]", () => {
    expect(patch([{ replace: '/name', value: 'x' }], 4)).toEqual({ name: 'x' });
    expect(patch([{ remove: '/foo' }], 4)).toEqual({ properties: {} });
  });

  it('replace of a missing property is 409; remove of a missing one is 409; remove of a core one is 403', () => {
    expect(apiError(() => patch([{ op: 'replace', path: '/nope', value: 'x' }])).message).toBe('Property nope does not exist.');
    expect(apiError(() => patch([{ op: 'remove', path: '/nope' }])).status).toBe(409);
    expect(apiError(() => patch([{ op: 'remove', path: '/name' }])).message).toBe('Property name may not be removed.');
  });

  it('read-only and reserved attributes are 403, bad values 400, bad pointers and ops 400', () => {
    expect(apiError(() => patch([{ op: 'replace', path: '/status', value: 'active' }])).message).toBe("Attribute 'status' is read-only.");
    expect(apiError(() => patch([{ op: 'add', path: '/deleted', value: 'x' }])).message).toBe("Attribute 'deleted' is reserved.");
    expect(apiError(() => patch([{ op: 'add', path: '/min_ram', value: 'lots' }])).status).toBe(400);
    expect(apiError(() => patch([{ op: 'add', path: '/foo', value: 1 }])).status).toBe(400);
    expect(apiError(() => patch([{ op: 'add', path: 'foo', value: 'x' }])).status).toBe(400);
    expect(apiError(() => patch([{ op: 'add', path: '/a/b', value: 'x' }])).status).toBe(400);
    expect(apiError(() => patch([{ op: 'move', path: '/a', from: '/b' }])).status).toBe(400);
    expect(apiError(() => patch([{ op: 'add', path: '/foo' }])).message).toBe('Operation "add" requires a member named "value".');
    expect(apiError(() => patch({ op: 'add' })).status).toBe(400);
  });

  it('unescapes JSON pointers (~1 is /, ~0 is ~)', () => {
    expect(patch([{ op: 'add', path: '/a~1b~0c', value: 'v' }])).toEqual({ properties: { foo: 'bar', 'a/b~c': 'v' } });
  });

  it('is all or nothing: a failing op after a good one changes nothing', () => {
    const img = image();
    expect(() => applyPatch(img, parsePatch([{ op: 'add', path: '/name', value: 'new' }, { op: 'remove', path: '/nope' }]), 10, member)).toThrow();
    expect(img.name).toBe('cirros');
  });

  it('container_format/disk_format can be changed only while queued (403 after)', () => {
    expect(patch([{ op: 'replace', path: '/container_format', value: 'docker' }])).toEqual({ container_format: 'docker' });
    const active = image({ status: 'active' });
    expect(apiError(() => patch([{ op: 'replace', path: '/disk_format', value: 'qcow2' }], 10, active)).message)
      .toBe('Attribute disk_format can be only replaced for a queued image.');
  });

  it('visibility public and owner changes need an admin', () => {
    expect(apiError(() => patch([{ op: 'replace', path: '/visibility', value: 'public' }])).status).toBe(403);
    expect(patch([{ op: 'replace', path: '/visibility', value: 'public' }], 10, image(), admin)).toEqual({ visibility: 'public' });
    expect(apiError(() => patch([{ op: 'replace', path: '/owner', value: 'p-alt' }])).status).toBe(403);
    expect(patch([{ op: 'replace', path: '/owner', value: 'p-alt' }], 10, image(), admin)).toEqual({ owner: 'p-alt' });
  });
});

describe('the list query', () => {
  const q = (s: string) => parseListQuery(new URLSearchParams(s));

  it('defaults to newest first, a page of 25, hidden images excluded', () => {
    expect(q('')).toEqual({
      visibility: undefined,
      conditions: [{ column: 'os_hidden', op: 'eq', value: false }],
      sort: [{ key: 'created_at', dir: 'desc' }, { key: 'id', dir: 'desc' }],
      limit: 25,
      marker: undefined,
    });
  });

  it('caps limit at 1000 and refuses non-integers and negatives', () => {
    expect(q('limit=5000').limit).toBe(1000);
    expect(() => q('limit=abc')).toThrow(/must be an integer/);
    expect(() => q('limit=-1')).toThrow(/must be positive/);
  });

  it('parses os_hidden case-insensitively (the SDK sends True)', () => {
    expect(q('os_hidden=True').conditions).toContainEqual({ column: 'os_hidden', op: 'eq', value: true });
    expect(() => q('os_hidden=maybe')).toThrow(DomainError);
  });

  it('turns glanceclient sort_key/sort_dir and the SDK sort= into the same sort', () => {
    expect(q('sort_key=name&sort_dir=asc').sort).toEqual([{ key: 'name', dir: 'asc' }, { key: 'created_at', dir: 'desc' }, { key: 'id', dir: 'desc' }]);
    expect(q('sort=name:asc,size').sort).toEqual([{ key: 'name', dir: 'asc' }, { key: 'size', dir: 'desc' }, { key: 'created_at', dir: 'desc' }, { key: 'id', dir: 'desc' }]);
    expect(() => q('sort_key=bogus')).toThrow(/Invalid sort key: bogus/);
    expect(() => q('sort_dir=up')).toThrow(/Invalid sort direction: up/);
    expect(() => q('sort=name&sort_key=name')).toThrow(DomainError);
  });

  it('filters: repeated tags AND, in: lists, sizes, timestamps, enums, and unknown keys as properties', () => {
    const c = q('tag=a&tag=b&name=in:x,"y,z"&size_min=10&size_max=20&status=active&visibility=community&hw_disk_bus=virtio&created_at=gte:2026-01-01T00:00:00Z').conditions;
    expect(c).toEqual(expect.arrayContaining([
      { tag: 'a' }, { tag: 'b' },
      { column: 'name', op: 'in', values: ['x', 'y,z'] },
      { column: 'size', op: 'gte', value: 10 }, { column: 'size', op: 'lte', value: 20 },
      { column: 'status', op: 'in', values: ['active'] },
      { property: 'hw_disk_bus', value: 'virtio' },
      { column: 'created_at', op: 'gte', value: '2026-01-01T00:00:00.000Z' },
    ]));
    expect(q('visibility=all').visibility).toBe('all');
    expect(() => q('visibility=secret')).toThrow(/Invalid visibility value: secret/);
    expect(() => q('status=bogus')).toThrow(/Invalid status value: bogus/);
    expect(() => q('member_status=maybe')).toThrow(DomainError);
    expect(() => q('created_at=soon:2026-01-01')).toThrow(DomainError);
    expect(() => q('size_min=big')).toThrow(DomainError);
  });

  it('splits in: values with quotes like Glance', () => {
    expect(splitInValues('a, b ,"c,d"')).toEqual(['a', 'b', 'c,d']);
  });

  it('sorts with NULLs first ascending and ties broken by created_at then id', () => {
    const sort = q('sort_key=name&sort_dir=asc').sort;
    const a = image({ id: 'a', name: null });
    const b = image({ id: 'b', name: 'b' });
    const c1 = image({ id: 'c1', name: 'c', created_at: '2026-01-01T00:00:00.000Z' });
    const c2 = image({ id: 'c2', name: 'c', created_at: '2026-01-02T00:00:00.000Z' });
    expect([c1, b, c2, a].sort((x, y) => compareImages(x, y, sort)).map((i) => i.id)).toEqual(['a', 'b', 'c2', 'c1']);
  });
});

describe('the image status table (Glance valid_state_targets)', () => {
  it('allows queued → saving → active and saving → queued (retry), refuses active → saving', () => {
    expect(canTransition('queued', 'saving')).toBe(true);
    expect(canTransition('saving', 'active')).toBe(true);
    expect(canTransition('saving', 'queued')).toBe(true);
    expect(canTransition('active', 'saving')).toBe(false);
    expect(canTransition('deactivated', 'active')).toBe(true);
    expect(transitionMessage('active', 'saving')).toBe('Image status transition from active to saving is not allowed');
  });
});
