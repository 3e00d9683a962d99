// Images: the list (refreshed every 3 s), and an upload from a file: Glance's POST /v2/images makes
// the record, the file then streams through the page's multipart route into the same ingest as
// PUT /file, with XHR's upload progress drawn.
import { api, attempt, fmtBytes, h, IMAGE, showAlert, uploadImageFile } from './api.js';

function row(img, refresh) {
  return h('tr', { dataset: { id: img.id, name: img.name ?? '' } },
    h('td', {}, img.name ?? ''), h('td', { class: `status ${img.status}` }, img.status), h('td', {}, fmtBytes(img.size)),
    h('td', {}, `${img.container_format ?? ''}/${img.disk_format ?? ''}`), h('td', {}, img.visibility),
    h('td', { class: 'actions' }, h('button', {
      class: 'danger', type: 'button', dataset: { action: 'delete' }, disabled: img.protected,
      onclick: () => confirm(`Delete image ${img.name ?? img.id}?`) && attempt(async () => { await api('DELETE', `${IMAGE}/images/${img.id}`); refresh(); }),
    }, 'Delete')));
}

export function mount(el) {
  const body = h('tbody');
  const progress = h('progress', { id: 'upload-progress', max: 100, value: 0, hidden: true });
  const progressText = h('span', { id: 'upload-progress-text', class: 'hint' });
  const form = h('form', { id: 'upload', class: 'card' },
    h('h2', {}, 'Upload an image'),
    h('div', { class: 'row' },
      h('label', {}, 'Name', h('input', { name: 'name', required: true })),
      h('label', {}, 'docker save archive', h('input', { name: 'file', type: 'file', required: true })),
      h('label', {}, 'Visibility', h('select', { name: 'visibility' }, ['private', 'shared', 'public', 'community'].map((v) => h('option', {}, v)))),
      h('button', { class: 'primary', type: 'submit' }, 'Upload')),
    h('div', { class: 'row' }, progress, progressText));
  el.append(form, h('h2', {}, 'Images'), h('table', { id: 'images' },
    h('thead', {}, h('tr', {}, ['Name', 'Status', 'Size', 'Format', 'Visibility', ''].map((c) => h('th', {}, c)))), body));

  const refresh = () => attempt(async () => {
    const { images } = await api('GET', `${IMAGE}/images?limit=200&sort=created_at:desc`);
    body.replaceChildren(...images.map((img) => row(img, refresh)));
  });

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const f = new FormData(form);
    const file = f.get('file');
    const submit = form.querySelector('button[type=submit]');
    submit.disabled = true;
    progress.hidden = false;
    progress.value = 0;
    progressText.textContent = '';
    attempt(async () => {
      const img = await api('POST', `${IMAGE}/images`, { name: f.get('name'), container_format: 'docker', disk_format: 'raw', visibility: f.get('visibility') });
      refresh();
      try {
        await uploadImageFile(img.id, file, (sent, total) => {
          progress.value = total ? Math.round((sent / total) * 100) : 0;
          progressText.textContent = `${fmtBytes(sent)} of ${fmtBytes(total)}`;
        });
      } catch (err) {
        // The record would stay queued without data: remove it, and say why.
        await api('DELETE', `${IMAGE}/images/${img.id}`).catch(() => {});
        throw err;
      }
      progressText.textContent = `${file.name}: uploaded, ${fmtBytes(file.size)}`;
      form.reset();
      showAlert(`Image ${img.name} is active.`, 'info');
    }).finally(() => {
      submit.disabled = false;
      refresh();
    });
  });

  refresh();
  const timer = setInterval(refresh, 3000);
  return () => clearInterval(timer);
}
