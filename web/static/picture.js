// picture.js: what the page adds to map.svg (see app.js for the parts of the script).

const FADE_MS = 1600;        // how long a flash of activity lasts
const LOG_KEEP_MS = 8000;    // how long a line of the activity log stays
const LOG_MAX = 12;          // lines of the activity log at most
const BANDS_MAX = 200;       // activity bands on a large plot at most

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
  // Each page said once: "view page 0 shows store page 2, shown nowhere else".
  let s;
  if (r.classList.contains('vp')) {
    s = `view page ${r.dataset.v} shows store page ${f}`;
    s += vs.length > 1 ? `, shown at view pages ${andList(vs)} (aliased: one page, not copies)` : ', shown at no other view page';
  } else {
    s = `store page ${f} `;
    if (!vs.length) s += 'is shown at no view page';
    else s += `is shown at view page${vs.length > 1 ? 's' : ''} ${andList(vs)}` + (vs.length > 1 ? ' (aliased: one page, not copies)' : '');
  }
  if (f >= status.data_pages) s += '; past the end of data: reads as zeros';
  $('hover').textContent = s;
}

// andList writes numbers as "1", "1 and 3", "1, 3 and 5".
function andList(xs) {
  return xs.length < 2 ? xs.join('') : xs.slice(0, -1).join(', ') + ' and ' + xs[xs.length - 1];
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

// pageCount is how many pages spans [lo, hi) hold.
function pageCount(list) { return list.reduce((n, [lo, hi]) => n + hi - lo, 0); }

// logLine tells one report: "read view: view pages 0-2 → store pages 2-0", the store pages in
// the order of the view pages that show them (as the layout language writes them).
function logLine(op, r, a) {
  const li = document.createElement('li');
  li.className = op;
  const one = pageCount(a.pages) === 1;
  const pages = (r.file === 'data' ? '' : 'view ') + (one ? 'page' : 'pages');
  let s = `${op === 'read' ? 'read' : 'wrote'} ${fileName(r)}: ${pages} ${spanText(a.pages)}`;
  if (r.file !== 'data') s += ` → store page${one ? '' : 's'} ${a.shows || spanText(a.store) + (a.partial ? ' …' : '')}`;
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
