/**
 * Glance's image status table (src/image/image-status.ts) and the one repository method that
 * moves an image by it: an illegal move is refused before SQL is touched, a legal one is a
 * compare-and-set on a real SQLite, and losing the race answers false.
 */
import { DomainError, msg } from '../../src/errors';
import { ImageRepository, NewImage } from '../../src/db/image-repo';
import { Db, migrate, openDb } from '../../src/db/knex';
import type { ImageStatus } from '../../src/image/image-record';
import { canTransition, IMAGE_STATUSES, isImageStatus, VALID_STATE_TARGETS } from '../../src/image/image-status';

const ALL = Object.keys(IMAGE_STATUSES) as ImageStatus[];

describe('the transition table', () => {
  it('names every status once, and every target is a status', () => {
    expect(Object.keys(VALID_STATE_TARGETS).sort()).toEqual([...ALL].sort());
    for (const targets of Object.values(VALID_STATE_TARGETS)) for (const t of targets) expect(isImageStatus(t)).toBe(true);
  });

  it.each([
    ['queued', 'saving'], ['saving', 'active'], ['saving', 'queued'], ['active', 'deactivated'], ['deactivated', 'active'],
    ['saving', 'killed'], ['killed', 'deleted'],
  ] as Array<[ImageStatus, ImageStatus]>)('allows %s → %s (moves novadock makes or Glance allows)', (from, to) => {
    expect(canTransition(from, to)).toBe(true);
  });

  it.each([
    ['saving', 'saving'], ['active', 'saving'], ['active', 'queued'], ['deactivated', 'saving'], ['queued', 'deactivated'],
    ['killed', 'active'], ['deleted', 'queued'], ['active', 'active'],
  ] as Array<[ImageStatus, ImageStatus]>)('refuses %s → %s', (from, to) => {
    expect(canTransition(from, to)).toBe(false);
  });

  it('a deleted image goes nowhere, and no status moves to itself', () => {
    expect(VALID_STATE_TARGETS.deleted).toEqual([]);
    for (const s of ALL) expect(canTransition(s, s)).toBe(false);
  });

  it('refuses an unknown status rather than throwing', () => {
    expect(canTransition('bogus' as ImageStatus, 'active')).toBe(false);
  });
});

describe('ImageRepository.transition on SQLite', () => {
  let db: Db;
  let repo: ImageRepository;
  beforeAll(async () => {
    db = openDb(':memory:');
    await migrate(db);
    repo = new ImageRepository(db);
  });
  afterAll(async () => { await db.destroy(); });

  let n = 0;
  async function queuedImage(): Promise<string> {
    const at = new Date().toISOString();
    const rec: NewImage = {
      id: `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`, name: 'img', visibility: 'private', protected: false, os_hidden: false,
      checksum: null, os_hash_algo: null, os_hash_value: null, owner: 'p1', size: null, virtual_size: null,
      container_format: 'docker', disk_format: 'raw', min_ram: 0, min_disk: 0, engine_image_id: null, properties: {}, tags: [],
      created_at: at, updated_at: at,
    };
    expect(await repo.create(rec)).toBe(true);
    return rec.id;
  }

  it('a new image is queued, whatever status the caller had in mind', async () => {
    const id = await queuedImage();
    expect((await repo.get(id))?.status).toBe('queued');
    const again = { ...(await repo.get(id))!, id: '00000000-0000-4000-8000-ffffffffffff', status: 'active' as const };
    expect(await repo.create(again)).toBe(true);
    expect((await repo.get(again.id))?.status).toBe('queued');
  });

  it('a legal move from the current status happens, with its fields', async () => {
    const id = await queuedImage();
    expect(await repo.transition(id, 'queued', 'saving')).toBe(true);
    expect(await repo.transition(id, 'saving', 'active', { size: 7, checksum: 'abc', engine_image_id: 'sha256:x' })).toBe(true);
    expect(await repo.get(id)).toMatchObject({ status: 'active', size: 7, checksum: 'abc', engine_image_id: 'sha256:x' });
  });

  it('an illegal move is refused with Glance\'s message, and nothing changes', async () => {
    const id = await queuedImage();
    await expect(repo.transition(id, 'queued', 'deactivated')).rejects.toThrow(msg.imageStatusTransition('queued', 'deactivated'));
    const err = await repo.transition(id, 'active', 'saving').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DomainError);
    expect((err as DomainError).kind).toBe('invalidState');
    expect((await repo.get(id))?.status).toBe('queued');
  });

  it('the loser of a race gets false: the image is no longer in `from`', async () => {
    const id = await queuedImage();
    const results = await Promise.all([repo.transition(id, 'queued', 'saving'), repo.transition(id, 'queued', 'saving')]);
    expect(results.sort()).toEqual([false, true]);
    expect(await repo.transition(id, 'queued', 'saving')).toBe(false);
    expect((await repo.get(id))?.status).toBe('saving');
  });

  it('a gone image gives false, not an error', async () => {
    expect(await repo.transition('00000000-0000-4000-8000-000000000999', 'queued', 'saving')).toBe(false);
  });

  it('saving() finds the images left saving, with the worker writing each (recovery of a dead process)', async () => {
    const a = await queuedImage();
    const b = await queuedImage();
    await repo.transition(a, 'queued', 'saving');
    await repo.transition(b, 'queued', 'saving');
    const saving = await repo.saving();
    expect(saving.map((i) => i.id)).toEqual(expect.arrayContaining([a, b]));
    expect(saving.find((i) => i.id === a)?.owner).toBe(null); // this repository was made without a worker id
  });
});
