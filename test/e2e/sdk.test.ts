/**
 * Contract §10 S15: an openstacksdk script, as a Python user writes it — upload an image from a
 * file, boot it with no network, wait for ACTIVE, delete and wait for the delete.
 */
import { startServer, StartedServer } from '../helpers/server';
import { python } from '../helpers/clients';
import type { TestImage } from '../helpers/test-image';
import { containerState, lines, ok, testImage } from './support';

jest.setTimeout(240_000);

let srv: StartedServer;
let image: TestImage;

beforeAll(async () => {
  image = await testImage('e2e-sdk', false);
  srv = await startServer();
}, 240_000);
afterAll(async () => {
  await srv?.cleanup();
});

it('S15: create_image, create_server, wait_for_server and delete_server print ACTIVE active, and leave no container', async () => {
  const script = `
import os, openstack
conn = openstack.connect(auth_url=os.environ["OS_AUTH_URL"], username="admin", password=os.environ["OS_PASSWORD"],
                         project_name="admin", user_domain_name="Default", project_domain_name="Default")
img = conn.image.create_image("sdkimg", filename=os.environ["ARCHIVE"], container_format="docker", disk_format="raw")
srv = conn.compute.create_server(name="sdkvm", image_id=img.id, flavor_id="1", networks="none")
srv = conn.compute.wait_for_server(srv, status="ACTIVE", wait=120)
print(srv.status, conn.image.get_image(img.id).status)
print(srv.id)
conn.compute.delete_server(srv); conn.compute.wait_for_delete(srv, wait=120)
print("deleted")
`;
  const r = ok(await python(script, { ...srv.env.admin, ARCHIVE: image.path }, { timeoutMs: 200_000 }));
  const [status, serverId, deleted] = lines(r);
  expect(status).toBe('ACTIVE active');
  expect(deleted).toBe('deleted');
  expect(await containerState(serverId)).toBe('absent');
});
