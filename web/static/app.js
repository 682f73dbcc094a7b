// The nlfs live page, in four parts that web/page.go puts, in this order, into one strict
// function in the page: app.js (requests, the event stream, status, the views, the editor),
// picture.js (what the page lays over map.svg: hover and activity), steps.js (the step player),
// start.js.
// The server sends the page with the view's state in it (the picture, which is map.svg itself,
// status, the layout, vmas), so the first paint is complete; this script follows the daemon's
// event stream (/events) and, when a change calls for it, asks for the page again and takes the
// new state from it: one renderer, the server's, for all of it. No library, no build step.

const SVGNS = 'http://www.w3.org/2000/svg';
const SMALL_VIEW = 64;       // views drawn page by page (render.SmallView): their letters change with writes

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const token = params.get('token') || '';
let view = params.get('view') || '';

// ---- requests ----

function url(path, extra) {
  const p = new URLSearchParams(extra || {});
  if (view) p.set('view', view);
  const s = p.toString();
  return path + (s ? '?' + s : '');
}

async function request(path, opts, extra) {
  const o = Object.assign({cache: 'no-store'}, opts || {});
  o.headers = Object.assign({Authorization: 'Bearer ' + token}, o.headers || {});
  return fetch(url(path, extra), o);
}

async function get(path, extra) {
  const r = await request(path, {}, extra);
  if (!r.ok) throw new Error(path + ': ' + r.status + ' ' + (await r.text()).trim());
  return r;
}

// single makes fn run at most once at a time; a call while it runs makes it run once more
// after, so the page always ends showing the latest state without piling up requests.
function single(fn) {
  let running = false, again = false;
  const run = async () => {
    if (running) { again = true; return; }
    running = true;
    try {
      do { again = false; await fn(); } while (again);
    } catch (e) {
      console.warn(e);
    } finally {
      running = false;
    }
  };
  return run;
}

function el(name, attrs, parent) {
  const e = document.createElementNS(SVGNS, name);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (parent) parent.appendChild(e);
  return e;
}

// ---- the state the page came with, and the event stream ----

let status = JSON.parse($('state').dataset.status);
const keyOf = (s) => [s.generation, s.data_pages, s.view_pages, s.layout, s.runs, s.vmas, s.backend].join('/');
let lastKey = keyOf(status);
let es = null;
let names = [...$('views').options].slice(1).map((o) => o.value);
let changes = 0; // "change" events handled: tests tell the first paint from what came after

function connect() {
  if (es) es.close();
  const p = new URLSearchParams({token: token});
  if (view) p.set('view', view);
  const mine = new EventSource('/events?' + p.toString());
  es = mine;
  mine.addEventListener('open', () => setConn(true));
  mine.addEventListener('change', (ev) => {
    if (mine !== es) return;
    let m;
    try { m = JSON.parse(ev.data); } catch (e) { return; }
    changes++;
    document.body.dataset.changes = String(changes);
    onChange(m);
  });
  mine.addEventListener('error', () => {
    if (mine !== es) return;
    setConn(false);
    // EventSource comes back by itself after a dropped stream; after a refusal (a view
    // gone, too many streams) it gives up, so start again.
    if (mine.readyState === EventSource.CLOSED) setTimeout(() => { if (mine === es) connect(); }, 2000);
  });
}

function setConn(on) {
  const c = $('conn');
  c.textContent = on ? 'live' : 'reconnecting…';
  c.className = 'conn ' + (on ? 'on' : 'off');
}

function onChange(m) {
  setNames(m.names || []);
  const gone = $('gone');
  gone.hidden = !m.gone;
  if (m.gone) gone.textContent = 'view ' + view + ' was removed';
  if (m.status) {
    showStatus(m.status);
    const key = keyOf(m.status);
    // A write changes the letters a small view's picture shows.
    const wrote = (m.activity || []).some((r) => r.write) || m.truncated;
    if (key !== lastKey || (wrote && m.status.view_pages <= SMALL_VIEW)) {
      lastKey = key;
      refresh();
    }
  }
  if (m.activity) showActivity(m.activity);
}

// refresh asks for the page again and takes the view's state from it.
const refresh = single(async () => {
  const asked = view;
  const html = await (await get('/')).text();
  if (asked !== view) return; // another view was chosen meanwhile: its own refresh follows
  const doc = new DOMParser().parseFromString(html, 'text/html');
  // All or nothing: a panel is never emptied by a page that lacks it.
  const ids = ['picture-title', 'generation', 'layout', 'status', 'vmas', 'picture'];
  if (ids.some((id) => !doc.getElementById(id)) || !doc.getElementById('state')) throw new Error('/: not the page');
  for (const id of ids) $(id).replaceChildren(...[...doc.getElementById(id).childNodes].map((n) => document.importNode(n, true)));
  status = JSON.parse(doc.getElementById('state').dataset.status);
  inForce = $('layout').textContent;
  if (!editorDirty) $('editor').value = inForce;
  setUpPicture();
  stepsFollow();
});

// ---- views ----

function setNames(list) {
  if (list.join('\n') === names.join('\n')) return;
  names = list.slice();
  const sel = $('views');
  while (sel.options.length > 1) sel.remove(1);
  for (const n of names) {
    const o = document.createElement('option');
    o.value = n;
    o.textContent = 'views/' + n;
    sel.appendChild(o);
  }
  if (view && !names.includes(view)) {
    const o = document.createElement('option');
    o.value = view;
    o.textContent = 'views/' + view + ' (gone)';
    sel.appendChild(o);
  }
  sel.value = view;
}

function switchView(name) {
  view = name;
  const p = new URLSearchParams(location.search);
  if (view) p.set('view', view); else p.delete('view');
  history.replaceState(null, '', '?' + p.toString());
  document.title = 'nlfs live' + (view ? ': views/' + view : '');
  lastKey = '';
  editorDirty = false;
  hideError();
  closeSteps();
  $('applied').textContent = '';
  $('gone').hidden = true;
  $('activity').replaceChildren();
  recent = [];
  totals = {read: 0, write: 0};
  $('totals').textContent = '';
  refresh();
  connect();
}

// ---- status ----

// showStatus writes status as the status file does: a list joined by spaces, "none" when
// empty.
function showStatus(s) {
  status = s;
  const t = $('status');
  t.replaceChildren();
  for (const [k, v] of Object.entries(s)) {
    const tr = t.insertRow();
    const kc = tr.insertCell();
    kc.className = 'k';
    kc.textContent = k;
    const vc = tr.insertCell();
    vc.className = 'v';
    vc.textContent = Array.isArray(v) ? (v.length ? v.join(' ') : 'none') : String(v);
    tr.dataset.key = k;
  }
  $('generation').textContent = 'generation ' + s.generation;
}

// ---- layout and editor ----

let editorDirty = false;
let inForce = $('layout').textContent;

$('editor').addEventListener('input', () => { editorDirty = true; $('applied').textContent = ''; });
$('revert').addEventListener('click', () => {
  $('editor').value = inForce;
  editorDirty = false;
  hideError();
  stepsFollow();
});
$('apply').addEventListener('click', async () => {
  const text = $('editor').value;
  $('applied').textContent = 'applying…';
  let r;
  try {
    r = await request('/layout', {method: 'PUT', body: text, headers: {'Content-Type': 'text/plain; charset=utf-8'}});
  } catch (e) {
    $('applied').textContent = '';
    showError('not applied: ' + e.message, 0, 0);
    return;
  }
  if (r.status === 204) {
    editorDirty = false;
    hideError();
    $('applied').textContent = 'applied';
    refresh();
    return;
  }
  $('applied').textContent = '';
  const msg = (await r.text()).trim();
  showError(msg, Number(r.headers.get('Nlfs-Error-Line') || 0), Number(r.headers.get('Nlfs-Error-Column') || 0));
});

function hideError() { $('error').hidden = true; }

// byteColumn turns a column counted in UTF-8 bytes (as the layout language counts) into an
// index into the JavaScript string line.
function byteColumn(line, col) {
  const bytes = new TextEncoder().encode(line);
  return new TextDecoder().decode(bytes.slice(0, Math.max(col - 1, 0))).length;
}

// showError shows a refusal under the editor: the message, then the offending line with a
// caret under its column, and selects the spot in the editor.
function showError(msg, line, col) {
  $('error').hidden = false;
  $('error-msg').textContent = msg;
  const pos = $('error-pos');
  pos.dataset.line = String(line);
  pos.dataset.column = String(col);
  if (!line) { pos.textContent = ''; return; }
  const ed = $('editor');
  const lines = ed.value.split('\n');
  const text = (lines[line - 1] || '').replace(/\r$/, '');
  const at = byteColumn(text, col);
  const shown = text.replace(/\t/g, ' ');
  const num = String(line);
  pos.textContent = 'line ' + line + ', column ' + col + ':\n' +
    num + ' | ' + shown + '\n' + ' '.repeat(num.length) + ' | ' + ' '.repeat(at) + '^';
  let start = 0;
  for (let i = 0; i < line - 1 && i < lines.length; i++) start += lines[i].length + 1;
  start += at;
  let end = start;
  while (end < ed.value.length && !/[\s,#]/.test(ed.value[end])) end++;
  ed.focus();
  ed.setSelectionRange(start, Math.max(end, start + 1));
}
