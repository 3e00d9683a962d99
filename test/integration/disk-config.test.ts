/**
 * OS-DCF:diskConfig through HTTP (nova/api/openstack/compute/helpers.py translate_attributes,
 * compute/api.py _inherit_properties_from_image): accepted on create, rebuild and update,
 * AUTO/MANUAL only, kept on the server and shown; the image's auto_disk_config is the default
 * and "disabled" refuses AUTO.
 */
import { makeTestApp, TestApp } from '../helpers/app';
import { act, boot, bootActive, call, show, uploadImage } from './servers-support';

let t: TestApp;
let image: string;
let autoImage: string;
let disabledImage: string;

beforeAll(async () => {
  t = await makeTestApp();
  image = await uploadImage(t);
  autoImage = await uploadImage(t, { name: 'auto', extra: { auto_disk_config: 'True' } });
  disabledImage = await uploadImage(t, { name: 'disabled', extra: { auto_disk_config: 'Disabled' } });
});
afterAll(async () => { await t.close(); });

const dcf = async (id: string) => (await show(t, id))['OS-DCF:diskConfig'];

it('a server is MANUAL unless asked otherwise, and the create answer says what it is', async () => {
  const res = await boot(t, image, { 'OS-DCF:diskConfig': 'AUTO' });
  expect(res.status).toBe(202);
  expect(res.body.server['OS-DCF:diskConfig']).toBe('AUTO');
  await t.services.compute.tasks.idle();
  expect(await dcf(res.body.server.id)).toBe('AUTO');
  expect(await dcf(await bootActive(t, image))).toBe('MANUAL');
});

it('the image\'s auto_disk_config is the default; "disabled" refuses AUTO with Nova\'s 400', async () => {
  expect(await dcf(await bootActive(t, autoImage))).toBe('AUTO');
  expect(await dcf(await bootActive(t, autoImage, { 'OS-DCF:diskConfig': 'MANUAL' }))).toBe('MANUAL');
  const refused = await boot(t, disabledImage, { 'OS-DCF:diskConfig': 'AUTO' });
  expect(refused.status).toBe(400);
  expect(refused.body.badRequest.message).toBe(`Requested image ${disabledImage} has automatic disk resize disabled.`);
});

it('update sets it either way and shows it in the answer', async () => {
  const id = await bootActive(t, image);
  const auto = await call(t, 'put', `/compute/v2.1/servers/${id}`, { body: { server: { 'OS-DCF:diskConfig': 'AUTO' } } });
  expect(auto.status).toBe(200);
  expect(auto.body.server['OS-DCF:diskConfig']).toBe('AUTO');
  const manual = await call(t, 'put', `/compute/v2.1/servers/${id}`, { body: { server: { 'OS-DCF:diskConfig': 'MANUAL' } } });
  expect(manual.body.server['OS-DCF:diskConfig']).toBe('MANUAL');
  expect(await dcf(id)).toBe('MANUAL');
  // A rename leaves it alone.
  await call(t, 'put', `/compute/v2.1/servers/${id}`, { body: { server: { 'OS-DCF:diskConfig': 'AUTO' } } });
  await call(t, 'put', `/compute/v2.1/servers/${id}`, { body: { server: { name: 'renamed' } } });
  expect(await dcf(id)).toBe('AUTO');
});

it('rebuild takes the asked value, else the new image\'s', async () => {
  const id = await bootActive(t, image);
  const res = await act(t, id, { rebuild: { imageRef: image, 'OS-DCF:diskConfig': 'AUTO' } });
  expect(res.status).toBe(202);
  expect(res.body.server['OS-DCF:diskConfig']).toBe('AUTO');
  await t.services.compute.tasks.idle();
  expect(await dcf(id)).toBe('AUTO');
  expect((await act(t, id, { rebuild: { imageRef: image } })).status).toBe(202);
  await t.services.compute.tasks.idle();
  expect(await dcf(id)).toBe('MANUAL');
  expect((await act(t, id, { rebuild: { imageRef: disabledImage, 'OS-DCF:diskConfig': 'AUTO' } })).status).toBe(400);
});

it.each([
  ['create', (id: string) => boot(t, image, { 'OS-DCF:diskConfig': 'auto' }).then((r) => [r, id] as const)],
  ['update', (id: string) => call(t, 'put', `/compute/v2.1/servers/${id}`, { body: { server: { 'OS-DCF:diskConfig': 'BOGUS' } } }).then((r) => [r, id] as const)],
  ['rebuild', (id: string) => act(t, id, { rebuild: { imageRef: image, 'OS-DCF:diskConfig': 1 } }).then((r) => [r, id] as const)],
])('anything but AUTO or MANUAL is a 400 on %s', async (_op, send) => {
  const id = await bootActive(t, image);
  const [res] = await send(id);
  expect(res.status).toBe(400);
  expect(res.body.badRequest.message).toMatch(/OS-DCF:diskConfig/);
  expect(await dcf(id)).toBe('MANUAL');
});
