// report.html: sort, filter, search and page the sample table; rows expand to the full sample.
// Every text goes through textContent, never innerHTML.
(function () {
  const data = JSON.parse(document.getElementById('samples-data').textContent);
  const body = document.querySelector('#samples tbody');
  const q = document.getElementById('q'), f = document.getElementById('f');
  const count = document.getElementById('count'), info = document.getElementById('page-info');
  const size = document.getElementById('page-size'), all = document.getElementById('all');
  const state = {key: null, dir: 1, page: 0, open: new Set(), doc: null};
  const ORDER = {correct: 0, wrong: 1, error: 2};
  const natural = new Intl.Collator(undefined, {numeric: true, sensitivity: 'base'});

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }
  function fmt(v) { return v === null || v === undefined ? '' : String(+Number(v).toFixed(4)); }
  function haystack(s) {
    if (s._h === undefined) {
      const turns = (s.turns || []).map(t => t.content).join(' ');
      const choices = (s.choices || []).map(c => c.t).join(' ');
      s._h = [s.id, s.q, s.pre || '', turns, choices, s.resp, s.ext, s.tgt, s.err, s.grp]
        .join(' ').toLowerCase();
    }
    return s._h;
  }
  function compare(a, b) {
    const k = state.key;
    if (k === 'st') return (ORDER[a.st] - ORDER[b.st]) * state.dir;
    if (k === 'v') {
      const x = a.v === null ? -Infinity : a.v, y = b.v === null ? -Infinity : b.v;
      return (x - y) * state.dir;
    }
    return natural.compare(String(a[k] || ''), String(b[k] || '')) * state.dir;
  }
  function turnsBlock(turns) {
    const box = el('div');
    for (const t of turns) {
      const div = el('div', null, 'turn ' + t.role);
      div.appendChild(el('div', t.role, 'role'));
      div.appendChild(el('pre', t.content));
      box.appendChild(div);
    }
    return box;
  }
  function section(parent, title, node) {
    parent.appendChild(el('h4', title));
    parent.appendChild(typeof node === 'string' ? el('pre', node) : node);
  }
  function detail(s) {
    const box = el('div', null, 'detail');
    section(box, 'Question', s.q || '(empty)');
    if (s.kind === 'choices') {
      const table = el('table', null, 'choices');
      const head = el('tr');
      for (const h of ['choice', 'log-likelihood', 'greedy', '']) head.appendChild(el('th', h));
      table.appendChild(head);
      for (const c of s.choices) {
        const tr = el('tr');
        tr.appendChild(el('td', c.t));
        tr.appendChild(el('td', fmt(c.ll), 'num'));
        tr.appendChild(el('td', c.greedy === null ? '' : (c.greedy ? 'yes' : 'no')));
        const marks = el('td');
        for (const m of c.marks) marks.appendChild(el('span', m, 'mark ' + m.split(' ')[0]));
        tr.appendChild(marks);
        table.appendChild(tr);
      }
      section(box, 'Choices', table);
    }
    const folded = s.kind === 'chat' ? (s.turns || []).length : (s.pre || '').length;
    if (folded) {
      const d = el('details');
      const what = s.shots ? s.shots + ' few-shot example' + (s.shots > 1 ? 's' : '')
                           : 'the text before the question';
      d.appendChild(el('summary', 'Prompt before the question (' + what + '), as sent'));
      d.appendChild(s.kind === 'chat' ? turnsBlock(s.turns) : el('pre', s.pre));
      box.appendChild(d);
    }
    if (s.resp) section(box, 'Response', s.resp);
    if (s.ext) section(box, s.kind === 'choices' ? 'Chosen' : 'Extracted answer', s.ext);
    if (s.tgt) section(box, s.kind === 'choices' ? 'Gold' : 'Target', s.tgt);
    const scores = Object.entries(s.scores).map(([k, v]) => k + ': ' + fmt(v)).join('\n');
    if (scores) section(box, 'Scores', scores);
    if (s.err) section(box, 'Error', s.err);
    const facts = 'latency ' + (s.lat === null ? '-' : fmt(s.lat) + ' s') +
      (s.hit ? ', cache hit' : '') + (s.grp ? ', group ' + s.grp : '');
    box.appendChild(el('p', facts));
    return box;
  }
  function row(s) {
    const tr = el('tr', null, 'row ' + s.st);
    tr.appendChild(el('td', s.id));
    tr.appendChild(el('td', s.st, 'st ' + s.st));
    tr.appendChild(el('td', fmt(s.v), 'num'));
    const qc = el('td'); qc.appendChild(el('div', s.q, 'q')); tr.appendChild(qc);
    for (const v of [s.ext, s.err ? s.err : s.tgt]) {
      const td = el('td', null, 'hide-narrow'); td.appendChild(el('div', v, 'cell')); tr.appendChild(td);
    }
    tr.addEventListener('click', () => {
      if (state.open.has(s.id)) state.open.delete(s.id); else state.open.add(s.id);
      render();
    });
    return tr;
  }
  function render() {
    const needle = q.value.toLowerCase(), want = f.value;
    let rows = data.filter(s => (state.doc === null || s.id === state.doc) &&
                                (want === 'all' || s.st === want) &&
                                (!needle || haystack(s).includes(needle)));
    if (state.key) rows = rows.slice().sort(compare);
    const per = Number(size.value), pages = Math.max(1, Math.ceil(rows.length / per));
    state.page = Math.min(state.page, pages - 1);
    body.textContent = '';
    for (const s of rows.slice(state.page * per, (state.page + 1) * per)) {
      body.appendChild(row(s));
      if (state.open.has(s.id)) {
        const tr = el('tr', null, 'detail'), td = el('td');
        td.colSpan = 6; td.appendChild(detail(s)); tr.appendChild(td); body.appendChild(tr);
      }
    }
    count.textContent = rows.length + ' of ' + data.length + ' samples' +
      (state.doc !== null ? ' (doc ' + state.doc + ' only)' : '');
    all.hidden = state.doc === null;
    info.textContent = 'page ' + (state.page + 1) + ' of ' + pages;
    all.addEventListener('click', () => { state.doc = null; reset(); });
  window.addEventListener('hashchange', () => { load(); render(); });
  document.getElementById('prev').disabled = state.page === 0;
    document.getElementById('next').disabled = state.page >= pages - 1;
    save();
  }
  for (const th of document.querySelectorAll('#samples th[data-key]')) {
    th.addEventListener('click', () => {
      const key = th.dataset.key;
      state.dir = state.key === key ? -state.dir : 1;
      state.key = key;
      for (const o of document.querySelectorAll('#samples th')) o.removeAttribute('aria-sort');
      th.setAttribute('aria-sort', state.dir > 0 ? 'ascending' : 'descending');
      render();
    });
  }
  // the view is kept in the address (#f=wrong&sort=-v&q=text&page=2): links reopen it;
  // #doc=ID shows that one sample, opened (the links of `nv-eval compare`)
  function save() {
    const p = new URLSearchParams();
    if (state.doc !== null) p.set('doc', state.doc);
    if (f.value !== 'all') p.set('f', f.value);
    if (q.value) p.set('q', q.value);
    if (state.key) p.set('sort', (state.dir < 0 ? '-' : '') + state.key);
    if (state.page) p.set('page', String(state.page + 1));
    history.replaceState(null, '', p.toString() ? '#' + p.toString() : location.pathname);
  }
  function load() {
    const p = new URLSearchParams(location.hash.slice(1));
    if (p.get('f')) f.value = p.get('f');
    if (p.get('q')) q.value = p.get('q');
    const sort = p.get('sort');
    if (sort) {
      state.dir = sort.startsWith('-') ? -1 : 1;
      state.key = sort.replace(/^-/, '');
      const th = document.querySelector('#samples th[data-key="' + state.key + '"]');
      if (th) th.setAttribute('aria-sort', state.dir > 0 ? 'ascending' : 'descending');
    }
    state.page = Math.max(0, (Number(p.get('page')) || 1) - 1);
    state.doc = p.get('doc');
    if (state.doc !== null) state.open.add(state.doc);
  }
  const reset = () => { state.page = 0; render(); };
  q.addEventListener('input', reset); f.addEventListener('change', reset);
  size.addEventListener('change', reset);
  document.getElementById('prev').addEventListener('click', () => { state.page--; render(); });
  document.getElementById('next').addEventListener('click', () => { state.page++; render(); });
  load();
  render();
})();
