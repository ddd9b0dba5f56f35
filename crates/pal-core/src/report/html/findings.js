(function () {
  var root = document.documentElement;
  function fail(msg) {
    var prev = root.getAttribute('data-errors');
    root.setAttribute('data-errors', (prev ? prev + ' | ' : '') + msg);
    var box = document.getElementById('errors');
    if (box) { box.textContent = 'This page failed: ' + root.getAttribute('data-errors'); }
  }
  window.addEventListener('error', function (e) { fail(String(e.message)); });
  var PAGE = 100;
  var data = JSON.parse(document.getElementById('findings-data').textContent);
  var S = data.strings, R = data.rows;
  var lower = null;
  var body = document.getElementById('findings').tBodies[0];
  var q = document.getElementById('q');
  var sel = document.getElementById('verdict');
  var info = document.getElementById('page-info');
  var prev = document.getElementById('prev');
  var next = document.getElementById('next');
  var shown = [], page = 0, sortCol = -1, sortDir = 1;
  // Columns as rows hold them: 0 verdict text, 1 verdict class, 2 name,
  // 3 id, 4 kind, 5 product, 6 environment, 7 solution, 8 users text,
  // 9 users number (-1 unknown), 10 attributed, 11 flags, 12 reasons, 13 fix.
  var TEXT = [0, 2, 3, 4, 5, 6, 7, 8, 10, 11, 13];
  function matches(r, text) {
    for (var i = 0; i < TEXT.length; i++) {
      var k = r[TEXT[i]];
      if (k >= 0 && lower[k].indexOf(text) !== -1) { return true; }
    }
    for (var j = 0; j < r[12].length; j++) {
      if (lower[r[12][j]].indexOf(text) !== -1) { return true; }
    }
    return false;
  }
  function want(r, v) {
    if (!v) { return true; }
    var text = S[r[0]];
    return v === 'at-risk' ? text === 'credited (at risk)' : text === v;
  }
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) { e.textContent = text; }
    if (cls) { e.className = cls; }
    return e;
  }
  function lines(td, text) {
    var parts = text.split('\n');
    for (var i = 0; i < parts.length; i++) {
      if (i > 0) { td.appendChild(el('br')); }
      td.appendChild(document.createTextNode(parts[i]));
    }
  }
  function row(r) {
    var tr = el('tr');
    tr.setAttribute('data-verdict', S[r[0]]);
    var td = el('td'); td.appendChild(el('span', S[r[0]], S[r[1]])); tr.appendChild(td);
    td = el('td');
    td.appendChild(el('b', S[r[2]])); td.appendChild(el('br')); td.appendChild(el('code', S[r[3]]));
    if (r[13] >= 0) {
      var fix = el('p', null, 'fix'); fix.appendChild(el('b', 'Fix: '));
      fix.appendChild(document.createTextNode(S[r[13]])); td.appendChild(fix);
    }
    if (r[12].length) {
      var d = el('details'); d.appendChild(el('summary', 'why'));
      var ul = el('ul');
      for (var i = 0; i < r[12].length; i++) { ul.appendChild(el('li', S[r[12][i]])); }
      d.appendChild(ul); td.appendChild(d);
    }
    tr.appendChild(td);
    tr.appendChild(el('td', S[r[4]], 'nw'));
    tr.appendChild(el('td', S[r[5]], 'nw'));
    tr.appendChild(el('td', S[r[6]]));
    tr.appendChild(el('td', S[r[7]]));
    tr.appendChild(el('td', S[r[8]], 'n'));
    td = el('td'); lines(td, S[r[10]]); tr.appendChild(td);
    td = el('td'); lines(td, S[r[11]]); tr.appendChild(td);
    return tr;
  }
  function render() {
    var pages = Math.max(1, Math.ceil(shown.length / PAGE));
    if (page >= pages) { page = pages - 1; }
    if (page < 0) { page = 0; }
    var frag = document.createDocumentFragment();
    var end = Math.min(shown.length, (page + 1) * PAGE);
    for (var i = page * PAGE; i < end; i++) { frag.appendChild(row(R[shown[i]])); }
    while (body.firstChild) { body.removeChild(body.firstChild); }
    body.appendChild(frag);
    info.textContent = shown.length === 0 ? 'no findings match' :
      'findings ' + (page * PAGE + 1) + '-' + end + ' of ' + shown.length +
      (shown.length === R.length ? '' : ' (of ' + R.length + ')') +
      ', page ' + (page + 1) + ' of ' + pages;
    prev.disabled = page === 0;
    next.disabled = page >= pages - 1;
  }
  function filter() {
    var text = q.value.trim().toLowerCase();
    var v = sel.value;
    if (text && lower === null) {
      lower = S.map(function (s) { return s.toLowerCase(); });
    }
    shown = [];
    for (var i = 0; i < R.length; i++) {
      if (want(R[i], v) && (!text || matches(R[i], text))) { shown.push(i); }
    }
    if (sortCol >= 0) { sortShown(); }
    render();
  }
  // Table columns to row fields: verdict, resource, kind, product,
  // environment, solution, active users, attributed users, flags.
  var COLS = [0, 2, 4, 5, 6, 7, 9, 10, 11];
  function sortShown() {
    var k = COLS[sortCol];
    shown.sort(function (a, b) {
      var x = R[a][k], y = R[b][k], c;
      if (k === 9) { c = x - y; } else { c = S[x].localeCompare(S[y]); }
      return c !== 0 ? c * sortDir : a - b;
    });
  }
  var timer = null;
  q.addEventListener('input', function () {
    clearTimeout(timer);
    timer = setTimeout(function () { page = 0; filter(); }, 150);
  });
  sel.addEventListener('change', function () { page = 0; filter(); });
  prev.addEventListener('click', function () { page--; render(); });
  next.addEventListener('click', function () { page++; render(); });
  var ths = document.getElementById('findings').tHead.rows[0].cells;
  Array.prototype.forEach.call(ths, function (th, i) {
    th.addEventListener('click', function () {
      sortDir = sortCol === i ? -sortDir : (i === 6 ? -1 : 1);
      sortCol = i;
      sortShown();
      render();
    });
  });
  function fromHash() {
    var h = location.hash.replace(/^#/, '');
    h.split('&').forEach(function (kv) {
      var i = kv.indexOf('=');
      if (i < 0) { return; }
      var key = kv.slice(0, i), val = decodeURIComponent(kv.slice(i + 1).replace(/\+/g, ' '));
      if (key === 'q') { q.value = val; }
      if (key === 'verdict') { sel.value = val; }
      if (key === 'page') { page = Math.max(0, (parseInt(val, 10) || 1) - 1); }
    });
    filter();
  }
  window.addEventListener('hashchange', function () { page = 0; fromHash(); });
  fromHash();
  // When the page was ready, from the start of navigation (measured, never
  // asserted: docs/performance.md).
  root.setAttribute('data-ready-ms', String(Math.round(performance.now())));
  root.setAttribute('data-ready', 'true');
})();
