import { api, attempt, COMPUTE, h } from './api.js';

export function mount(el) {
  const body = h('tbody');
  el.append(h('h2', {}, 'Flavors'), h('table', { id: 'flavors' },
    h('thead', {}, h('tr', {}, ['Name', 'vCPUs', 'RAM', 'Disk', 'Ephemeral', 'Public', 'ID'].map((c) => h('th', {}, c)))), body));
  attempt(async () => {
    const { flavors } = await api('GET', `${COMPUTE}/flavors/detail`);
    body.replaceChildren(...flavors.map((f) => h('tr', { dataset: { id: f.id } },
      h('td', {}, f.name), h('td', {}, f.vcpus), h('td', {}, `${f.ram} MiB`), h('td', {}, `${f.disk} GiB`),
      h('td', {}, `${f['OS-FLV-EXT-DATA:ephemeral'] ?? 0} GiB`), h('td', {}, f['os-flavor-access:is_public'] === false ? 'no' : 'yes'), h('td', { class: 'hint' }, f.id))));
  });
}
