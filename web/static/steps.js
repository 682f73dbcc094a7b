// steps.js: the step player (see app.js for the parts of the script).

// ---- the step player ----

// steps: {list, rows: [{top, bottom}], at, overlay, height, blob, what, fromEditor, and what the
// calls were drawn from: the layout in force's generation, the editor's text}
let steps = null;

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
  showSteps(await r.json(), fromEditor ? 'the editor\'s text (not applied)' : 'the layout in force', fromEditor);
}

// showSteps shows the drawing of every step (as `nlfs layout show --steps --svg` makes it)
// with the steps after the current one veiled. Each step's row is found by its label ("start",
// "remap V N P"), written at the left of the row.
function showSteps(a, what, fromEditor) {
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
  steps = {list: a.steps, rows, at: 0, overlay, height, blob, what, fromEditor, generation: status.generation, text: $('editor').value};
  $('steps-stale').hidden = true;
  box.classList.remove('stale');
  goStep(0);
}

// stepsStale marks the player's calls as no longer those of what they were drawn from (the
// editor's text was edited, or another layout was put in force): they stay to be read, marked,
// until played again.
function stepsStale(why) {
  if (!steps) return;
  $('steps-stale').textContent = why + ': the calls shown are those of ' + (steps.fromEditor ? 'the editor\'s text' : 'the layout') + ' as it was when they were drawn. Play again for the new one.';
  $('steps-stale').hidden = false;
  $('steps').classList.add('stale');
}

// stepsFollow marks the calls stale once what they were drawn from has changed: the editor's
// text (edited, reverted, or replaced by a new layout in force), or the layout in force. It is
// called on each edit and after each refresh.
function stepsFollow() {
  if (!steps) return;
  if (steps.fromEditor && $('editor').value !== steps.text) stepsStale('The editor\'s text changed');
  if (!steps.fromEditor && status.generation !== steps.generation) stepsStale('Another layout is in force');
}

$('editor').addEventListener('input', stepsFollow);

function closeSteps() {
  if (steps) URL.revokeObjectURL(steps.blob);
  steps = null;
  $('steps').hidden = true;
  $('steps').replaceChildren();
  $('player').hidden = true;
  $('step-text').textContent = '';
  $('step-text').classList.remove('refused');
  $('steps-stale').hidden = true;
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
  $('step-text').textContent = `${steps.what}, ${st.call}: ${st.change}. Since Linux 4.0: ${st.vmas} VMA${st.vmas === 1 ? '' : 's'}, one per run; before 4.0: ${st.before}.`;
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
