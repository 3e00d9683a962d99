/**
 * Issue 16: revoked tokens come from the database, not a process's memory. A token revoked
 * through one process is refused by the other within a bounded poll (printed: each process reloads
 * revocations on its heartbeat).
 */
import { Api, cleanUpClustersAfterEach, startCluster, waitFor } from './support';

jest.setTimeout(300_000);
cleanUpClustersAfterEach();

test('when a token is revoked through one process, then the other refuses it with 401', async () => {
  const c = await startCluster('revoke');
  const { token, projectId } = await c.srv.login('demo');
  const [one, other] = c.srv.processes.map((p) => new Api(p.url, token, projectId));
  expect((await other.compute('GET', '/servers')).status).toBe(200);

  const revoked = await one.call('DELETE', '/identity/v3/auth/tokens', { headers: { 'X-Subject-Token': token } });
  expect(revoked.status).toBe(204);
  const at = Date.now();
  expect((await one.compute('GET', '/servers')).status).toBe(401);

  const refused = await waitFor(() => other.compute('GET', '/servers'), (r) => r.status === 401, 30_000, 50);
  console.log(`token-revocation: the other process refuses the revoked token after ${Date.now() - at} ms`);
  expect(refused.value.status).toBe(401);
  // The rest of the cloud is unaffected: the demo user's other tokens still work on both.
  const fresh = await c.srv.login('demo');
  for (const p of c.srv.processes) expect((await new Api(p.url, fresh.token, fresh.projectId).compute('GET', '/servers')).status).toBe(200);
});
