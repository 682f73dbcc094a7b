// The nlfs live page. It follows the daemon's event stream (/events) and fetches the layout,
// the picture and the vmas again whenever the view's status says they changed; it draws small
// views itself (view pages on top, store pages below, as TLPI Figure 49-5) and shows large
// ones as map.svg with an overlay for hovering and activity. No library, no build step.
'use strict';
(() => {
  const SVGNS = 'http://www.w3.org/2000/svg';
  const FADE_MS = 1600;        // how long a flash of activity lasts
  const LOG_KEEP_MS = 8000;    // how long a line of the activity log stays
  const LOG_MAX = 12;          // lines of the activity log at most
  const BANDS_MAX = 200;       // activity bands on a large plot at most
  const VMAS_LINES = 400;      // vmas lines fetched at most

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

  // ---- the event stream ----

  let es = null;
  let lastKey = '';
  let names = [];

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
      const s = m.status;
      showStatus(s);
      const key = [s.generation, s.data_pages, s.view_pages, s.layout, s.runs, s.vmas, s.backend].join('/');
      if (key !== lastKey) {
        lastKey = key;
        refreshLayout();
        refreshPicture();
        refreshVMAs();
      }
    }
    if (m.activity) showActivity(m.activity);
  }

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
    lastKey = '';
    editorDirty = false;
    hideError();
    $('applied').textContent = '';
    $('gone').hidden = true;
    $('activity').replaceChildren();
    totals = {read: 0, write: 0};
    $('totals').textContent = '';
    connect();
  }

  // ---- status and vmas ----

  let status = null;

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

  const refreshVMAs = single(async () => {
    const r = await get('/vmas', {lines: String(VMAS_LINES)});
    $('vmas').textContent = await r.text();
  });

  // ---- layout and editor ----

  let editorDirty = false;
  let inForce = '';

  const refreshLayout = single(async () => {
    const r = await get('/layout');
    inForce = await r.text();
    $('layout').textContent = inForce;
    if (!editorDirty) $('editor').value = inForce;
  });

  $('editor').addEventListener('input', () => { editorDirty = true; $('applied').textContent = ''; });
  $('revert').addEventListener('click', () => {
    $('editor').value = inForce;
    editorDirty = false;
    hideError();
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
      refreshLayout();
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

  // ---- the picture ----

  let picture = null; // {small: true, pages, dataPages, draw} or {small: false, geometry...}
  let blobURL = '';

  const refreshPicture = single(async () => {
    const info = await (await get('/map.json')).json();
    $('picture-title').textContent = info.viewPages + ' view pages, ' + info.runs + ' runs, ' + info.dataPages + ' data pages';
    if (info.small) {
      drawSmall(info);
    } else {
      const text = await (await get('/map.svg')).text();
      drawLarge(info, text);
    }
  });

  function el(name, attrs, parent) {
    const e = document.createElementNS(SVGNS, name);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (parent) parent.appendChild(e);
    return e;
  }

  // storeColumns chooses the store pages drawn: all of data when it is small, else the pages
  // shown, with a gap ('…') between pages that are not consecutive.
  function storeColumns(pages, dataPages) {
    const shown = [...new Set(pages)].sort((a, b) => a - b);
    const top = shown.length ? shown[shown.length - 1] + 1 : 0;
    if (Math.max(dataPages, top) <= 64) {
      return Array.from({length: Math.max(dataPages, top)}, (_, i) => i);
    }
    const cols = [];
    shown.forEach((f, i) => {
      if (i > 0 && f !== shown[i - 1] + 1) cols.push(null);
      cols.push(f);
    });
    return cols;
  }

  function drawSmall(info) {
    const pages = info.pages || [];
    const dataPages = info.dataPages;
    const cols = storeColumns(pages, dataPages);
    const where = new Map(); // store page -> view pages showing it
    pages.forEach((f, v) => { if (!where.has(f)) where.set(f, []); where.get(f).push(v); });
    const n = Math.max(pages.length, cols.length);
    const pitch = n > 24 ? 34 : 48;
    const boxW = pitch - 8, boxH = 32, left = 64;
    const viewY = 16, dataY = viewY + boxH + Math.min(220, 110 + 3 * n);
    const xs = [];
    let x = left;
    const storeX = new Map();
    for (const f of cols) {
      if (f === null) { xs.push({gap: true, x}); x += pitch / 2; continue; }
      xs.push({f, x});
      storeX.set(f, x);
      x += pitch;
    }
    const width = Math.max(left + pitch * pages.length, x) + 16;
    const height = dataY + boxH + 16;
    const svg = el('svg', {width, height, viewBox: `0 0 ${width} ${height}`, class: 'small', role: 'img'});
    el('text', {x: left - 10, y: viewY + boxH / 2 + 5, class: 'label'}, svg).textContent = 'view';
    el('text', {x: left - 10, y: dataY + boxH / 2 + 5, class: 'label'}, svg).textContent = 'store';
    const past = (f) => f >= dataPages;
    const aliased = (f) => (where.get(f) || []).length > 1;
    const lines = el('g', {}, svg);
    pages.forEach((f, v) => {
      if (!storeX.has(f)) return;
      const cls = 'ln' + (past(f) ? ' past' : aliased(f) ? ' alias' : '');
      el('line', {x1: storeX.get(f) + boxW / 2, y1: dataY, x2: left + pitch * v + boxW / 2, y2: viewY + boxH + 2,
        class: cls, 'data-v': v, 'data-f': f}, lines);
    });
    const box = (x, y, label, cls, data) => {
      const g = el('g', Object.assign({class: 'box ' + cls}, data), svg);
      el('rect', {x, y, width: boxW, height: boxH, rx: 3}, g);
      el('text', {x: x + boxW / 2, y: y + boxH / 2 + 5}, g).textContent = label;
      return g;
    };
    pages.forEach((f, v) => {
      const cls = 'vp' + (past(f) ? ' past' : '') + (aliased(f) ? ' alias' : '');
      box(left + pitch * v, viewY, String(v), cls, {'data-v': v, 'data-f': f});
    });
    for (const c of xs) {
      if (c.gap) {
        el('text', {x: c.x + pitch / 4 - 4, y: dataY + boxH / 2 + 5, class: 'gap'}, svg).textContent = '…';
        continue;
      }
      const cls = 'sp' + (past(c.f) ? ' past' : '') + (aliased(c.f) ? ' alias' : '');
      box(c.x, dataY, String(c.f), cls, {'data-f': c.f});
    }
    svg.addEventListener('mouseover', (ev) => {
      const g = ev.target.closest('.box');
      if (g) hoverSmall(svg, g, where, dataPages);
    });
    svg.addEventListener('mouseleave', () => hoverSmall(svg, null, where, dataPages));
    const fig = $('picture');
    fig.replaceChildren(svg);
    if (blobURL) { URL.revokeObjectURL(blobURL); blobURL = ''; }
    picture = {small: true, svg, pages, where};
  }

  function hoverSmall(svg, g, where, dataPages) {
    for (const e of svg.querySelectorAll('.hl')) e.classList.remove('hl');
    if (!g) { $('hover').textContent = ''; return; }
    const f = Number(g.dataset.f);
    for (const e of svg.querySelectorAll(`[data-f="${f}"]`)) e.classList.add('hl');
    const vs = where.get(f) || [];
    let s = g.classList.contains('vp') ? `view page ${g.dataset.v} shows store page ${f}` : `store page ${f}`;
    s += vs.length ? ` — shown at view page${vs.length > 1 ? 's' : ''} ${vs.join(', ')}` : ' — not shown';
    if (vs.length > 1) s += ' (aliased)';
    if (f >= dataPages) s += '; past the end of data: reads as zeros';
    $('hover').textContent = s;
  }

  // drawLarge shows map.svg and lays an overlay in its coordinates over it. The plot's frame
  // and scales are read from the picture itself (its frame and tick labels), so the overlay has
  // exactly map.svg's bounds.
  function drawLarge(info, text) {
    // Parsed only to be measured (it is shown from a blob: URL); its style attributes would
    // count against the page's policy, and measuring needs none.
    const doc = new DOMParser().parseFromString(text.replace(/ style="[^"]*"/g, ''), 'image/svg+xml');
    const root = doc.documentElement;
    const width = Number(root.getAttribute('width')), height = Number(root.getAttribute('height'));
    const frames = [...doc.querySelectorAll('rect[fill="none"]')];
    const frame = frames[frames.length - 1];
    if (blobURL) URL.revokeObjectURL(blobURL);
    blobURL = URL.createObjectURL(new Blob([text], {type: 'image/svg+xml'}));
    const img = document.createElement('img');
    img.src = blobURL;
    img.width = width;
    img.height = height;
    img.alt = 'map.svg';
    const fig = $('picture');
    const overlay = el('svg', {viewBox: `0 0 ${width} ${height}`, class: 'overlay', preserveAspectRatio: 'none'});
    fig.replaceChildren(img, overlay);
    if (!frame) { picture = null; return; }
    const g = {
      left: Number(frame.getAttribute('x')), top: Number(frame.getAttribute('y')),
      plot: Number(frame.getAttribute('width')), viewN: info.viewPages, dataN: info.dataPages,
    };
    // The data axis: a tick label t at height y says dataN = plot*t/(bottom-y).
    let best = 0;
    for (const t of doc.querySelectorAll('text[text-anchor="end"][font-size="11"]')) {
      const v = Number(t.textContent), y = Number(t.getAttribute('y')) - 4;
      if (v > best && g.top + g.plot - y > 0) { best = v; g.dataN = g.plot * v / (g.top + g.plot - y); }
    }
    const hit = el('rect', {x: g.left, y: g.top, width: g.plot, height: g.plot, class: 'hit'}, overlay);
    const bands = el('g', {}, overlay);
    const cross = el('g', {}, overlay);
    picture = {small: false, overlay, bands, cross, g};
    let pending = -1, busy = false;
    const look = async () => {
      if (busy || pending < 0) return;
      busy = true;
      const n = pending;
      pending = -1;
      try {
        const r = await get('/page', {n: String(n)});
        hoverLarge(await r.json());
      } catch (e) {
        cross.replaceChildren();
      } finally {
        busy = false;
        look();
      }
    };
    hit.addEventListener('mousemove', (ev) => {
      const box = overlay.getBoundingClientRect();
      const x = (ev.clientX - box.left) * width / box.width;
      const n = Math.floor((x - g.left) / g.plot * g.viewN);
      if (n < 0 || n >= g.viewN) return;
      pending = n;
      look();
    });
    hit.addEventListener('mouseleave', () => { pending = -1; cross.replaceChildren(); $('hover').textContent = ''; });
  }

  function px(g, v) { return g.left + g.plot * v / g.viewN; }
  function py(g, f) { return g.top + g.plot - g.plot * f / g.dataN; }

  function hoverLarge(p) {
    if (!picture || picture.small) return;
    const {g, cross} = picture;
    cross.replaceChildren();
    const y = py(g, p.store + 0.5);
    el('line', {x1: px(g, p.view + 0.5), x2: px(g, p.view + 0.5), y1: g.top, y2: g.top + g.plot, class: 'cross'}, cross);
    el('line', {x1: g.left, x2: g.left + g.plot, y1: y, y2: y, class: 'cross'}, cross);
    for (const a of p.aliases) el('circle', {cx: px(g, a + 0.5), cy: y, r: 4, class: 'dot'}, cross);
    let s = `view page ${p.view} shows store page ${p.store}`;
    if (p.aliasCount > 1) {
      s += ` — aliased: shown at ${p.aliasCount} view pages (${p.aliases.join(', ')}${p.aliasCount > p.aliases.length ? ', …' : ''})`;
    }
    if (p.pastData) s += '; past the end of data: reads as zeros';
    $('hover').textContent = s;
  }

  // ---- activity ----

  let totals = {read: 0, write: 0};

  function human(n) {
    const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : String(n)) + ' ' + u[i];
  }

  // spanText writes page spans as the layout language would ("0-3 7"), the first few of them.
  function spanText(list, most = 8) {
    const s = list.slice(0, most).map(([lo, hi]) => (hi - lo === 1 ? String(lo) : lo + '-' + (hi - 1))).join(' ');
    return list.length > most ? s + ` … (${list.length - most} more)` : s;
  }

  function fileName(r) {
    if (r.file === 'data') return 'data';
    return r.view ? 'views/' + r.view + '/view' : 'view';
  }

  function showActivity(reports) {
    for (const r of reports) {
      for (const op of ['read', 'write']) {
        const a = r[op];
        if (!a) continue;
        totals[op] += a.bytes;
        logLine(op, r, a);
        flash(op, r, a);
      }
    }
    $('totals').textContent = `since the page opened: ${human(totals.read)} read, ${human(totals.write)} written`;
  }

  function logLine(op, r, a) {
    const li = document.createElement('li');
    li.className = op;
    const pages = r.file === 'data' ? 'pages' : 'view pages';
    let s = `${op === 'read' ? 'read' : 'wrote'} ${fileName(r)}: ${pages} ${spanText(a.pages)}`;
    if (r.file !== 'data') s += ` → store pages ${spanText(a.store)}${a.partial ? ' …' : ''}`;
    s += ` (${human(a.bytes)})`;
    li.textContent = new Date().toLocaleTimeString() + '  ' + s;
    li.dataset.op = op;
    li.dataset.file = fileName(r);
    const log = $('activity');
    log.prepend(li);
    while (log.children.length > LOG_MAX) log.lastChild.remove();
    setTimeout(() => li.remove(), LOG_KEEP_MS);
  }

  function restartClass(e, cls) {
    e.classList.remove(cls);
    void e.getBoundingClientRect(); // a reflow, so the animation starts over
    e.classList.add(cls);
  }

  // flash lights up what one report touched: this view's pages it read or wrote, and the store
  // pages behind them (so a write through any file lights every view page showing its page).
  function flash(op, r, a) {
    if (!picture) return;
    const mine = r.file === 'view' && r.view === view;
    const cls = 'flash-' + op;
    const inSpans = (list, p) => list.some(([lo, hi]) => p >= lo && p < hi);
    if (picture.small) {
      const svg = picture.svg;
      if (mine) {
        for (const g of svg.querySelectorAll('.vp')) if (inSpans(a.pages, Number(g.dataset.v))) restartClass(g, cls);
      }
      for (const g of svg.querySelectorAll('.sp')) if (inSpans(a.store, Number(g.dataset.f))) restartClass(g, cls);
      if (op === 'write') {
        for (const g of svg.querySelectorAll('.vp')) if (inSpans(a.store, Number(g.dataset.f))) restartClass(g, cls);
      }
      return;
    }
    const {g, bands} = picture;
    const band = (attrs) => {
      const b = el('rect', Object.assign({class: 'band ' + op}, attrs), bands);
      b.addEventListener('animationend', () => b.remove());
      setTimeout(() => b.remove(), FADE_MS + 200);
      while (bands.children.length > BANDS_MAX) bands.firstChild.remove();
    };
    if (mine) {
      for (const [lo, hi] of a.pages) {
        const x0 = px(g, Math.min(lo, g.viewN)), x1 = px(g, Math.min(hi, g.viewN));
        band({x: x0, y: g.top, width: Math.max(x1 - x0, 1.5), height: g.plot});
      }
    }
    for (const [lo, hi] of a.store) {
      const y0 = py(g, Math.min(hi, g.dataN)), y1 = py(g, Math.min(lo, g.dataN));
      band({x: g.left, y: y0, width: g.plot, height: Math.max(y1 - y0, 1.5)});
    }
  }

  // ---- start ----

  // Anything the Content-Security-Policy blocks is a bug of this page: say so where a test (or
  // a curious user) can see it.
  document.addEventListener('securitypolicyviolation', (ev) => {
    const b = document.body;
    b.dataset.cspViolations = (b.dataset.cspViolations || '') + ev.violatedDirective + ' ' + ev.blockedURI + ' at ' + ev.sourceFile + ':' + ev.lineNumber + ':' + ev.columnNumber + ' ' + ev.sample + '; ';
    console.error('blocked by the page\'s policy:', ev.violatedDirective, ev.blockedURI);
  });

  $('views').addEventListener('change', (ev) => switchView(ev.target.value));
  connect();
})();
