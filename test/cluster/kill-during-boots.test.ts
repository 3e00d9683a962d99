/**
 * Issue 16: `kill -9` of one of two processes during 30 concurrent boots sent through both. The
 * process killed is the one watching the compute host, so the survivor must both resolve the dead
 * process's boots and take the host over.
 *
 * The issue's figures ("within 10 s" for recovery, "within 1 s" for a `docker kill` to show) are
 * measured and printed, not asserted: the bounds below only stop a test that would hang.
 */
import { Cluster, ContainerInfo, ServerView, cleanUpClustersAfterEach, docker, ourContainers, startCluster, uploadImage, waitFor } from './support';

jest.setTimeout(600_000);
cleanUpClustersAfterEach();

const BOOTS = 30;

/** What must hold once the survivor has recovered, as a list of what does not (empty: all good). */
async function problems(c: Cluster, survivor: number): Promise<{ list: string[]; servers: ServerView[]; containers: ContainerInfo[] }> {
  const servers = await c.direct[survivor].servers();
  const containers = await ourContainers(c.host);
  const ids = new Set(servers.map((s) => s.id));
  const byServer = new Map(containers.map((x) => [x.Config.Labels['novadock.server_id'], x]));
  const list: string[] = [];
  for (const s of servers) {
    if (s['OS-EXT-STS:task_state'] !== null) list.push(`${s.name} has task_state ${JSON.stringify(s['OS-EXT-STS:task_state'])}`);
    if (s.status !== 'ACTIVE' && s.status !== 'ERROR') list.push(`${s.name} is ${s.status}`);
    if (s.status === 'ERROR' && !s.fault?.message) list.push(`${s.name} is ERROR without a fault`);
    if (s.status === 'ACTIVE' && !byServer.get(s.id)?.State.Running) list.push(`${s.name} is ACTIVE but its container is ${byServer.get(s.id)?.State.Status ?? 'absent'}`);
  }
  for (const x of containers) {
    if (!ids.has(x.Config.Labels['novadock.server_id'])) list.push(`container ${x.Name} has no server`);
  }
  return { list, servers, containers };
}

const countBy = (xs: string[]) => xs.reduce<Record<string, number>>((m, x) => ({ ...m, [x]: (m[x] ?? 0) + 1 }), {});

test(`when the process watching the host is killed -9 during ${BOOTS} concurrent boots sent through both, then every server settles ACTIVE or ERROR with a fault, no container is left without a server, and the survivor watches the host`, async () => {
  const c = await startCluster('boots', { config: { quotas: { instances: 200, cores: 400, ram: 1_000_000 } } });
  const imageId = await uploadImage(c.direct[0], c.image, 'cluster-boots');
  const watcher = c.leaseHolder();
  expect(watcher).toBeDefined();
  const victim = c.srv.processes.indexOf(watcher!);
  const survivor = 1 - victim;

  const replies = await Promise.all(Array.from({ length: BOOTS }, (_, i) => c.direct[i % 2].compute('POST', '/servers', {
    server: { name: `boot-${i}`, imageRef: imageId, flavorRef: '1' },
  })));
  expect(replies.map((r) => r.status)).toEqual(Array(BOOTS).fill(202));

  const victimWorker = c.srv.rows<{ holder: string }>('select holder from leases')[0]?.holder;
  await c.srv.processes[victim].kill9();
  const killedAt = Date.now();
  const atKill = c.srv.rows<{ id: string; vm_state: string; task_state: string | null; task_owner: string | null }>('select id, vm_state, task_state, task_owner from servers where not deleted');
  // The dead process's boots (the survivor must recover them) apart from the survivor's own.
  const orphans = new Set(atKill.filter((r) => r.task_owner === victimWorker).map((r) => r.id));
  let orphansSettledMs: number | undefined;
  console.log(`kill-during-boots: killed process ${victim + 1} (the host's watcher); at the kill ${JSON.stringify(countBy(atKill.map((r) => `${r.vm_state}/${r.task_state ?? 'none'}`)))}, `
    + `${atKill.filter((r) => r.task_state !== null).length} rows with a task, owners ${JSON.stringify(countBy(atKill.map((r) => (r.task_owner ? r.task_owner.slice(0, 8) : 'none'))))}`);

  // Bounded by two minutes (a guard against hangs); the issue asks for 10 s: printed, not asserted.
  // Watched through the API alone, beside the whole check below (which also asks the engine, slow
  // while it is busy with the boots).
  const orphansWatch = waitFor(async () => (await c.direct[survivor].servers())
    .filter((s) => orphans.has(s.id) && (s['OS-EXT-STS:task_state'] !== null || (s.status !== 'ACTIVE' && s.status !== 'ERROR'))), (pending) => pending.length === 0, 120_000, 100)
    .then(() => {
      orphansSettledMs = Date.now() - killedAt;
    });
  const settled = await waitFor(() => problems(c, survivor), (p) => p.list.length === 0, 120_000, 100);
  await orphansWatch;
  const recoveryMs = Date.now() - killedAt;
  console.log(`kill-during-boots: consistent ${recoveryMs} ms after the kill (issue: within 10 s): ${JSON.stringify(countBy(settled.value.servers.map((s) => s.status)))}, `
    + `${settled.value.containers.length} containers; the ${orphans.size} boots of the killed process were resolved ${orphansSettledMs} ms after the kill `
    + '(the rest is the survivor finishing its own boots)');
  expect(orphans.size).toBeGreaterThan(0);
  expect(settled.value.list).toEqual([]);
  expect(settled.value.servers).toHaveLength(BOOTS);
  for (const s of settled.value.servers) {
    expect(s['OS-EXT-STS:task_state']).toBeNull();
    expect(['ACTIVE', 'ERROR']).toContain(s.status);
  }

  // The survivor holds the host's lease and acts on its events.
  const held = await waitFor(async () => c.leaseHolder(), (p) => p === c.srv.processes[survivor], 30_000, 100);
  expect(held.value).toBe(c.srv.processes[survivor]);
  const target = settled.value.servers.find((s) => s.status === 'ACTIVE');
  expect(target).toBeDefined();
  const container = settled.value.containers.find((x) => x.Config.Labels['novadock.server_id'] === target!.id)!;
  expect((await docker(['kill', container.Id])).code).toBe(0);
  const killedContainerAt = Date.now();
  const shown = await waitFor(() => c.direct[survivor].server(target!.id), (s) => s.status === 'SHUTOFF', 30_000, 50);
  console.log(`kill-during-boots: docker kill shown as ${shown.value.status} by the survivor after ${Date.now() - killedContainerAt} ms (issue: within 1 s)`);
  expect(shown.value.status).toBe('SHUTOFF');
});
