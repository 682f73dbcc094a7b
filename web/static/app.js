// The nlfs live page. The server sends the page with the view's state in it (the picture, which
// is map.svg itself, status, the layout, vmas), so the first paint is complete. This script
// follows the daemon's event stream (/events) and, when a change calls for it, asks for the page
// again and takes the new state from it: one renderer, the server's, for all of it. It adds only
// what a page can: hovering a page lights its store page and every alias, reads and writes light
// the pages they reach, the editor applies a layout, and the step player shows a layout's calls
// one at a time (/steps). No library, no build step.
'use strict';
(() => {
  const SVGNS = 'http://www.w3.org/2000/svg';
  const FADE_MS = 1600;        // how long a flash of activity lasts
  const LOG_KEEP_MS = 8000;    // how long a line of the activity log stays
  const LOG_MAX = 12;          // lines of the activity log at most
  const BANDS_MAX = 200;       // activity bands on a large plot at most
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
    const take = (id) => $(id).replaceChildren(...[...doc.getElementById(id).childNodes].map((n) => document.importNode(n, true)));
    for (const id of ['picture-title', 'generation', 'layout', 'status', 'vmas', 'picture']) take(id);
    status = JSON.parse(doc.getElementById('state').dataset.status);
    inForce = $('layout').textContent;
    if (!editorDirty) $('editor').value = inForce;
    setUpPicture();
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

  // ---- the picture: map.svg, with what the page adds laid over it ----

  let picture = null; // {small: true, ...} or {small: false, ...}; null when neither was found

  // setUpPicture finds in map.svg what the page adds to: for a small view its view and store
  // pages (each cell's tooltip names it: "view page V shows store page F", "store page F") and
  // the arrows between them; for a large one the plot's frame and scales. Everything the page
  // draws goes into one group on top, in the picture's own coordinates.
  function setUpPicture() {
    picture = null;
    const svg = $('picture').querySelector('svg');
    if (!svg) return;
    const over = el('g', {class: 'overlay'}, svg);
    const cells = [], stores = new Map(), olds = [];
    for (const t of svg.querySelectorAll('g > title')) {
      const g = t.parentNode, r = g.querySelector('rect');
      if (!r) continue;
      let m = /^view page (\d+) shows store page (\d+)/.exec(t.textContent);
      if (m) { cells.push({v: Number(m[1]), f: Number(m[2]), box: r.getBBox(), tip: t.textContent}); continue; }
      m = /^store page (\d+)/.exec(t.textContent);
      if (m) { stores.set(Number(m[1]), {f: Number(m[1]), box: r.getBBox(), tip: t.textContent}); continue; }
      // The same view page as the one nonlinear VMA before Linux 4.0 held it, when drawn.
      m = /^before 4\.0, view page (\d+):.*store page (\d+)$/.exec(t.textContent);
      if (m) olds.push({v: Number(m[1]), f: Number(m[2]), box: r.getBBox()});
    }
    if (cells.length) setUpSmall(svg, over, cells, stores, olds);
    else setUpLarge(svg, over);
    relight();
  }

  // pitchOf is the distance between the centres of two neighbouring cells.
  function pitchOf(list) {
    const xs = list.map((c) => c.box.x + c.box.width / 2).sort((a, b) => a - b);
    let p = Infinity;
    for (let i = 1; i < xs.length; i++) if (xs[i] - xs[i - 1] > 1) p = Math.min(p, xs[i] - xs[i - 1]);
    return p;
  }

  function setUpSmall(svg, over, cells, stores, olds) {
    let pitch = Math.min(pitchOf(cells), pitchOf([...stores.values()]));
    if (!isFinite(pitch)) pitch = cells[0].box.width + 20;
    // A cell's frame: its pitch across (less a gap), its tooltip's area up and down (which the
    // renderer insets by 2).
    const frame = (c) => ({x: c.box.x + c.box.width / 2 - pitch / 2 + 2, y: c.box.y - 2, width: pitch - 4, height: c.box.height + 4});
    const where = new Map(); // store page -> its view pages
    for (const c of cells) {
      if (!where.has(c.f)) where.set(c.f, []);
      where.get(c.f).push(c.v);
      c.frame = frame(c);
    }
    for (const s of stores.values()) s.frame = frame(s);
    for (const o of olds) o.frame = frame(o);
    // Arrows (lines or paths, in the groups that give them their arrowhead) end at the view
    // page they point to: match them by where they end.
    const nearest = (list, x) => list.reduce((a, c) => (Math.abs(c.frame.x + c.frame.width / 2 - x) < Math.abs(a.frame.x + a.frame.width / 2 - x) ? c : a));
    const arrows = [];
    for (const line of svg.querySelectorAll('g[marker-end] > *')) {
      if (!(line instanceof SVGGeometryElement)) continue;
      const end = line.getPointAtLength(line.getTotalLength());
      const c = nearest(cells, end.x);
      arrows.push({line, v: c.v, f: c.f});
    }
    const marks = el('g', {}, over);
    const flashes = el('g', {}, over);
    const hits = el('g', {}, over);
    const hit = (c, cls, data) => {
      const r = el('rect', Object.assign({class: 'hit ' + cls}, c.frame, data), hits);
      el('title', {}, r).textContent = c.tip;
      return r;
    };
    for (const c of cells) c.hit = hit(c, 'vp', {'data-v': c.v, 'data-f': c.f});
    for (const s of stores.values()) s.hit = hit(s, 'sp', {'data-f': s.f});
    hits.addEventListener('mouseover', (ev) => {
      const r = ev.target.closest('.hit');
      if (r) hoverSmall(r);
    });
    hits.addEventListener('mouseleave', () => hoverSmall(null));
    picture = {small: true, cells, stores, olds, where, arrows, marks, flashes};
  }

  function hoverSmall(r) {
    const p = picture;
    if (!p || !p.small) return;
    p.marks.replaceChildren();
    for (const a of p.arrows) a.line.classList.remove('hl');
    for (const c of p.cells) c.hit.classList.remove('hl');
    for (const s of p.stores.values()) s.hit.classList.remove('hl');
    if (!r) { $('hover').textContent = ''; return; }
    const f = Number(r.dataset.f);
    const vs = p.where.get(f) || [];
    const lit = [...p.cells.filter((c) => c.f === f)];
    if (p.stores.has(f)) lit.push(p.stores.get(f));
    for (const c of lit) {
      c.hit.classList.add('hl');
      el('rect', Object.assign({class: 'mark'}, c.frame), p.marks);
    }
    for (const o of p.olds) if (o.f === f) el('rect', Object.assign({class: 'mark old'}, o.frame), p.marks);
    for (const a of p.arrows) if (a.f === f) a.line.classList.add('hl');
    let s = r.classList.contains('vp') ? `view page ${r.dataset.v} shows store page ${f}` : `store page ${f}`;
    s += vs.length ? ` — shown at view page${vs.length > 1 ? 's' : ''} ${vs.join(', ')}` : ' — not shown';
    if (vs.length > 1) s += ' (aliased: one page, not copies)';
    if (f >= status.data_pages) s += '; past the end of data: reads as zeros';
    $('hover').textContent = s;
  }

  // setUpLarge finds the permutation plot's frame (the last unfilled rect) and its scales: view
  // pages across from status, store pages up from the tick labels (a label t at height y says
  // the axis spans plot*t/(bottom-y) pages).
  function setUpLarge(svg, over) {
    const frames = [...svg.querySelectorAll('rect[fill="none"]')];
    const frame = frames[frames.length - 1];
    if (!frame) return;
    const g = {
      left: Number(frame.getAttribute('x')), top: Number(frame.getAttribute('y')),
      plot: Number(frame.getAttribute('width')), viewN: status.view_pages, dataN: status.data_pages,
    };
    let best = 0;
    for (const t of svg.querySelectorAll('text[text-anchor="end"][font-size="11"]')) {
      const v = Number(t.textContent), y = Number(t.getAttribute('y')) - 4;
      if (v > best && g.top + g.plot - y > 0) { best = v; g.dataN = g.plot * v / (g.top + g.plot - y); }
    }
    const bands = el('g', {}, over);
    const cross = el('g', {}, over);
    const hit = el('rect', {x: g.left, y: g.top, width: g.plot, height: g.plot, class: 'hit plot'}, over);
    picture = {small: false, bands, cross, g};
    let pending = -1, busy = false;
    const look = async () => {
      if (busy || pending < 0) return;
      busy = true;
      const n = pending;
      pending = -1;
      try {
        hoverLarge(await (await get('/page', {n: String(n)})).json());
      } catch (e) {
        cross.replaceChildren();
      } finally {
        busy = false;
        look();
      }
    };
    hit.addEventListener('mousemove', (ev) => {
      const pt = new DOMPoint(ev.clientX, ev.clientY).matrixTransform(svg.getScreenCTM().inverse());
      const n = Math.floor((pt.x - g.left) / g.plot * g.viewN);
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

  // lightUp lays a fading rect over the picture.
  function lightUp(parent, attrs, op) {
    const b = el('rect', Object.assign({class: 'flash ' + op}, attrs), parent);
    b.addEventListener('animationend', () => b.remove());
    setTimeout(() => b.remove(), FADE_MS + 200);
    while (parent.children.length > BANDS_MAX) parent.firstChild.remove();
  }

  // recent are the reports of the last FADE_MS, to light the picture again when a refresh
  // replaces it (a write both lights pages and changes their letters).
  let recent = [];

  function relight() {
    const now = Date.now();
    recent = recent.filter((x) => now - x.at < FADE_MS);
    for (const x of recent) light(x.op, x.r, x.a);
  }

  function flash(op, r, a) {
    recent.push({op, r, a, at: Date.now()});
    light(op, r, a);
  }

  // light lights up what one report touched: this view's pages it read or wrote, and the store
  // pages behind them (so a write through any file lights every view page showing its page).
  function light(op, r, a) {
    if (!picture) return;
    const mine = r.file === 'view' && r.view === view;
    const inSpans = (list, p) => list.some(([lo, hi]) => p >= lo && p < hi);
    if (picture.small) {
      const p = picture;
      for (const c of p.cells) {
        if ((mine && inSpans(a.pages, c.v)) || (op === 'write' && inSpans(a.store, c.f))) {
          lightUp(p.flashes, c.frame, op);
          c.hit.dataset.lit = op;
        }
      }
      for (const s of p.stores.values()) {
        if (inSpans(a.store, s.f)) { lightUp(p.flashes, s.frame, op); s.hit.dataset.lit = op; }
      }
      return;
    }
    const {g, bands} = picture;
    if (mine) {
      for (const [lo, hi] of a.pages) {
        const x0 = px(g, Math.min(lo, g.viewN)), x1 = px(g, Math.min(hi, g.viewN));
        lightUp(bands, {x: x0, y: g.top, width: Math.max(x1 - x0, 1.5), height: g.plot}, op);
      }
    }
    for (const [lo, hi] of a.store) {
      const y0 = py(g, Math.min(hi, g.dataN)), y1 = py(g, Math.min(lo, g.dataN));
      lightUp(bands, {x: g.left, y: y0, width: g.plot, height: Math.max(y1 - y0, 1.5)}, op);
    }
  }

  // ---- the step player ----

  let steps = null; // {list, rows: [{top, bottom}], at, overlay, height, blob}

  async function loadSteps(fromEditor) {
    const out = $('step-text');
    out.classList.remove('refused');
    out.textContent = 'drawing…';
    let r;
    try {
      r = fromEditor
        ? await request('/steps', {method: 'POST', body: $('editor').value, headers: {'Content-Type': 'text/plain; charset=utf-8'}})
        : await request('/steps');
    } catch (e) {
      out.textContent = e.message;
      out.classList.add('refused');
      return;
    }
    if (!r.ok) {
      closeSteps();
      out.textContent = (fromEditor ? 'the editor\'s text: ' : '') + (await r.text()).trim();
      out.classList.add('refused');
      return;
    }
    showSteps(await r.json(), fromEditor ? 'the editor\'s text (not applied)' : 'the layout in force');
  }

  // showSteps shows the drawing of every step (as `nlfs layout show --steps --svg` makes it)
  // with the steps after the current one veiled. Each step's row is found by its label ("start",
  // "remap V N P"), written at the left of the row.
  function showSteps(a, what) {
    closeSteps();
    // Parsed only to be measured (it is shown from a blob: URL, apart from the page); its style
    // attributes would count against the page's policy, and measuring needs none.
    const doc = new DOMParser().parseFromString(a.svg.replace(/ style="[^"]*"/g, ''), 'image/svg+xml');
    const root = doc.documentElement;
    const width = Number(root.getAttribute('width')), height = Number(root.getAttribute('height'));
    const labels = [...doc.querySelectorAll('text')].filter((t) => /^(start|remap \d+ \d+ \d+)$/.test(t.textContent));
    const ys = labels.length === a.steps.length ? labels.map((t) => Number(t.getAttribute('y'))) : [];
    // A label sits 17 units below its row's top (render's row: boxes 26 high, the label at their
    // middle); a row ends where the next begins.
    const pitch = ys.length > 1 ? ys[1] - ys[0] : 44;
    const rows = ys.map((y) => ({top: y - 20, bottom: y - 21 + pitch}));
    const blob = URL.createObjectURL(new Blob([a.svg], {type: 'image/svg+xml'}));
    const img = document.createElement('img');
    img.src = blob;
    img.width = width;
    img.height = height;
    img.alt = 'the calls step by step';
    const overlay = el('svg', {viewBox: `0 0 ${width} ${height}`, class: 'overlay', preserveAspectRatio: 'none'});
    const box = $('steps');
    box.replaceChildren(img, overlay);
    box.hidden = false;
    $('player').hidden = false;
    steps = {list: a.steps, rows, at: 0, overlay, height, blob, what};
    goStep(0);
  }

  function closeSteps() {
    if (steps) URL.revokeObjectURL(steps.blob);
    steps = null;
    $('steps').hidden = true;
    $('steps').replaceChildren();
    $('player').hidden = true;
    $('step-text').textContent = '';
    $('step-text').classList.remove('refused');
  }

  function goStep(i) {
    if (!steps) return;
    const n = steps.list.length;
    i = Math.max(0, Math.min(n - 1, i));
    steps.at = i;
    const st = steps.list[i];
    const box = $('steps');
    box.dataset.step = String(i);
    $('step-at').textContent = i === 0 ? `start (${n - 1} call${n === 2 ? '' : 's'} to go)` : `call ${i} of ${n - 1}`;
    $('step-back').disabled = i === 0;
    $('step-next').disabled = i === n - 1;
    const before = st.vmas === 0 ? 'no VMA' : '1 VMA: the one nonlinear mapping, whatever the calls';
    $('step-text').textContent = `${steps.what}, ${st.call}: ${st.change}. Since Linux 4.0: ${st.vmas} VMA${st.vmas === 1 ? '' : 's'}, one per run; before 4.0: ${before}.`;
    // The rows after this call are veiled; what the drawing says below them (the view the calls
    // end in, the legend) stays in sight.
    const o = steps.overlay;
    o.replaceChildren();
    const row = steps.rows[i], end = steps.rows[n - 1];
    if (!row) return;
    if (i < n - 1) el('rect', {x: 0, y: steps.rows[i + 1].top, width: '100%', height: end.bottom - steps.rows[i + 1].top, class: 'veil'}, o);
    el('rect', {x: 2, y: row.top, width: '99%', height: row.bottom - row.top, class: 'current'}, o);
  }

  $('steps-force').addEventListener('click', () => loadSteps(false));
  $('steps-editor').addEventListener('click', () => loadSteps(true));
  $('step-back').addEventListener('click', () => goStep(steps ? steps.at - 1 : 0));
  $('step-next').addEventListener('click', () => goStep(steps ? steps.at + 1 : 0));
  $('steps-close').addEventListener('click', closeSteps);
  document.addEventListener('keydown', (ev) => {
    if (!steps || ev.altKey || ev.ctrlKey || ev.metaKey) return;
    if (ev.target.closest && ev.target.closest('textarea, input, select')) return;
    if (ev.key === 'ArrowRight') { goStep(steps.at + 1); ev.preventDefault(); }
    if (ev.key === 'ArrowLeft') { goStep(steps.at - 1); ev.preventDefault(); }
  });

  // ---- start ----

  // Anything the Content-Security-Policy blocks is a bug of this page: say so where a test (or
  // a curious user) can see it.
  document.addEventListener('securitypolicyviolation', (ev) => {
    const b = document.body;
    b.dataset.cspViolations = (b.dataset.cspViolations || '') + ev.violatedDirective + ' ' + ev.blockedURI + ' at ' + ev.sourceFile + ':' + ev.lineNumber + ':' + ev.columnNumber + ' ' + ev.sample + '; ';
    console.error('blocked by the page\'s policy:', ev.violatedDirective, ev.blockedURI);
  });

  $('views').addEventListener('change', (ev) => switchView(ev.target.value));
  setUpPicture();
  connect();
})();
