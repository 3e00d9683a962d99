// Servers: live status (GET /servers/detail every 2 s), the actions Nova offers in each status,
// the console log, and a boot form (image, flavor). Rows are updated in place, so a poll never
// swaps a button from under a click.
import { api, attempt, COMPUTE, h, IMAGE } from './api.js';

const act = (body) => (s) => api('POST', `${COMPUTE}/servers/${s.id}/action`, body);
/** Label, request, and the statuses Nova allows it from (nova/compute/api.py check_instance_state). */
const ACTIONS = [
  ['os-start', 'Start', act({ 'os-start': null }), ['SHUTOFF']],
  ['os-stop', 'Stop', act({ 'os-stop': null }), ['ACTIVE', 'ERROR']],
  ['reboot', 'Reboot', act({ reboot: { type: 'SOFT' } }), ['ACTIVE', 'SHUTOFF']],
  ['pause', 'Pause', act({ pause: null }), ['ACTIVE']],
  ['unpause', 'Unpause', act({ unpause: null }), ['PAUSED']],
  ['suspend', 'Suspend', act({ suspend: null }), ['ACTIVE']],
  ['resume', 'Resume', act({ resume: null }), ['SUSPENDED']],
  ['createImage', 'Snapshot', (s) => {
    const name = prompt('Name of the snapshot image', `${s.name}-snapshot`);
    return name ? act({ createImage: { name } })(s) : undefined;
  }, ['ACTIVE', 'SHUTOFF', 'PAUSED', 'SUSPENDED']],
  ['console', 'Console log', null, ['ACTIVE', 'SHUTOFF', 'PAUSED', 'SUSPENDED', 'ERROR']],
  ['delete', 'Delete', (s) => (confirm(`Delete server ${s.name}?`) ? api('DELETE', `${COMPUTE}/servers/${s.id}`) : undefined), null],
];

const addresses = (s) => Object.entries(s.addresses ?? {}).map(([net, list]) => `${net}: ${list.map((a) => a.addr).join(', ')}`).join('; ');

export function mount(el) {
  const images = h('select', { name: 'imageRef', required: true });
  const flavors = h('select', { name: 'flavorRef', required: true });
  const boot = h('form', { id: 'boot', class: 'card' }, h('h2', {}, 'Boot a server'),
    h('div', { class: 'row' },
      h('label', {}, 'Name', h('input', { name: 'name', required: true })),
      h('label', {}, 'Image', images), h('label', {}, 'Flavor', flavors),
      h('button', { class: 'primary', type: 'submit' }, 'Boot')));
  const body = h('tbody');
  const consoleTitle = h('h3');
  const consoleText = h('pre', { class: 'console', id: 'console-output' });
  const consoleBox = h('section', { id: 'console', class: 'card', hidden: true }, consoleTitle, consoleText,
    h('div', { class: 'row' }, h('button', { type: 'button', id: 'console-refresh', onclick: () => showConsole(consoleFor) }, 'Refresh'),
      h('button', { type: 'button', onclick: () => { consoleBox.hidden = true; consoleFor = null; } }, 'Close')));
  el.append(boot, h('h2', {}, 'Servers'), h('table', { id: 'servers' },
    h('thead', {}, h('tr', {}, ['Name', 'Status', 'Task', 'Power', 'Addresses', 'Flavor', ''].map((c) => h('th', {}, c)))), body), consoleBox);

  const rows = new Map();
  const known = new Map();
  let consoleFor = null;
  const names = { flavors: new Map() };

  async function showConsole(s) {
    if (!s) return;
    consoleFor = s;
    consoleBox.hidden = false;
    consoleTitle.textContent = `Console log of ${s.name}`;
    const out = await attempt(() => api('POST', `${COMPUTE}/servers/${s.id}/action`, { 'os-getConsoleOutput': { length: 200 } }));
    consoleText.textContent = out ? out.output : '';
  }

  function actionsFor(s) {
    return ACTIONS.filter(([, , , from]) => from === null || from.includes(s.status)).map(([key, label, run]) => h('button', {
      type: 'button', class: key === 'delete' ? 'danger' : undefined, dataset: { action: key },
      onclick: () => (key === 'console' ? showConsole(known.get(s.id)) : attempt(async () => { await run(known.get(s.id)); poll(); })),
    }, label));
  }

  function render(list) {
    const seen = new Set();
    for (const s of list) {
      seen.add(s.id);
      const prev = known.get(s.id);
      known.set(s.id, s);
      let tr = rows.get(s.id);
      if (!tr) {
        tr = h('tr', { dataset: { id: s.id, name: s.name } }, ...Array.from({ length: 7 }, () => h('td')));
        tr.cells[6].className = 'actions';
        rows.set(s.id, tr);
      }
      const task = s['OS-EXT-STS:task_state'] ?? '';
      const cells = [s.name, s.status, task, ['NOSTATE', 'RUNNING', '', 'PAUSED', 'SHUTDOWN', '', 'CRASHED', 'SUSPENDED'][s['OS-EXT-STS:power_state']] ?? '', addresses(s), names.flavors.get(s.flavor?.id) ?? s.flavor?.original_name ?? s.flavor?.id ?? ''];
      cells.forEach((c, i) => { if (tr.cells[i].textContent !== String(c)) tr.cells[i].textContent = String(c); });
      tr.cells[1].className = `status ${s.status}`;
      tr.dataset.status = s.status;
      tr.dataset.task = task;
      // Buttons change only with the status or the task: a click never lands on a replaced button.
      // While a task runs, only Delete (Nova allows it in any state).
      if (!prev || prev.status !== s.status || (prev['OS-EXT-STS:task_state'] ?? '') !== task) tr.cells[6].replaceChildren(...actionsFor(task ? { ...s, status: '' } : s));
    }
    for (const [id, tr] of rows) if (!seen.has(id)) { tr.remove(); rows.delete(id); known.delete(id); }
    body.replaceChildren(...list.map((s) => rows.get(s.id)));
  }

  let busy = false;
  const poll = async () => {
    if (busy) return;
    busy = true;
    try {
      const res = await attempt(() => api('GET', `${COMPUTE}/servers/detail`));
      if (res) render(res.servers);
    } finally {
      busy = false;
    }
  };

  attempt(async () => {
    const [{ images: imgs }, { flavors: fl }] = await Promise.all([
      api('GET', `${IMAGE}/images?status=active&limit=200`), api('GET', `${COMPUTE}/flavors/detail`)]);
    for (const f of fl) names.flavors.set(f.id, f.name);
    images.replaceChildren(...imgs.map((i) => h('option', { value: i.id }, i.name ?? i.id)));
    flavors.replaceChildren(...fl.sort((a, b) => a.ram - b.ram).map((f) => h('option', { value: f.id }, `${f.name} (${f.vcpus} vCPU, ${f.ram} MiB)`)));
  });
  boot.addEventListener('submit', (e) => {
    e.preventDefault();
    const f = new FormData(boot);
    attempt(async () => {
      await api('POST', `${COMPUTE}/servers`, { server: { name: f.get('name'), imageRef: f.get('imageRef'), flavorRef: f.get('flavorRef') } });
      boot.querySelector('input[name=name]').value = '';
      poll();
    });
  });

  poll();
  const timer = setInterval(poll, 2000);
  return () => clearInterval(timer);
}
