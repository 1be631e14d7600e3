/**
 * Browser script, part 3: the usage view — recent requests from the gateway's log ring, spend and
 * remaining budget per scope, rate-limit state and the cache hit rate, refreshed while it is shown.
 */
export const SCRIPT_USAGE = String.raw`
var usageTimer = null;

function table(el, columns, rows, empty) {
  el.textContent = '';
  var head = el.createTHead().insertRow();
  columns.forEach(function (c) {
    var th = document.createElement('th');
    th.scope = 'col';
    th.textContent = c[0];
    if (c[2]) th.className = c[2];
    head.append(th);
  });
  var bodyEl = el.createTBody();
  if (!rows.length) {
    var cell = bodyEl.insertRow().insertCell();
    cell.colSpan = columns.length;
    cell.textContent = empty;
    return;
  }
  rows.forEach(function (row) {
    var tr = bodyEl.insertRow();
    columns.forEach(function (c) {
      var td = tr.insertCell();
      var v = c[1](row);
      td.textContent = v === undefined || v === null ? '' : String(v);
      if (c[2]) td.className = c[2];
    });
  });
}

function stat(label, value, fact) {
  var box = document.createElement('div');
  box.className = 'stat';
  var l = document.createElement('span');
  l.className = 'label';
  l.textContent = label;
  var v = document.createElement('span');
  v.className = 'value';
  v.textContent = value;
  v.setAttribute('data-stat', fact);
  box.append(l, v);
  return box;
}

function scopeText(row) { return row.scope + (row.scope_value !== undefined ? ' = ' + row.scope_value : ''); }
function amount(row, v) { return row.unit === 'usd' ? money(v) : v; }
function when(iso) {
  var d = new Date(iso);
  return isNaN(d.getTime()) ? '' : d.toLocaleString();
}

function renderUsage(u) {
  var recent = u.recent.requests;
  var spend = recent.reduce(function (s, r) { return s + (r.cost || 0); }, 0);
  // A request the client stopped (499) is no error of the gateway's or a provider's.
  var errors = recent.filter(function (r) { return r.status >= 400 && r.status !== 499; }).length;
  var stats = $('usage-stats');
  stats.textContent = '';
  stats.append(
    stat('Recent requests', String(recent.length), 'requests'),
    stat('Cache hit rate', u.cache.lookups ? Math.round(u.cache.hit_rate * 100) + '% of ' + u.cache.lookups : 'no lookups', 'cache'),
    stat('Spend (recent)', money(spend), 'spend'),
    stat('Errors (recent)', String(errors), 'errors'),
  );
  table($('recent-table'), [
    ['time', function (r) { return r.time ? new Date(r.time).toLocaleTimeString() : ''; }],
    ['route', function (r) { return r.route; }],
    ['model', function (r) { return r.model; }],
    ['target', function (r) { return r.target ? r.target + (r.provider ? ' (' + r.provider + ')' : '') : r.provider; }],
    ['status', function (r) { return r.status; }, 'num'],
    ['latency', function (r) { return ms(r.latency_ms); }, 'num'],
    ['TTFT', function (r) { return ms(r.ttft_ms); }, 'num'],
    ['tokens', function (r) { return r.tokens ? r.tokens.total : ''; }, 'num'],
    ['cost', function (r) { return money(r.cost); }, 'num'],
    ['cache', function (r) { return r.cache === 'DISABLED' && !r.provider ? '' : r.cache; }],
    ['fallbacks', function (r) { return r.fallbacks; }, 'num'],
    // Why a request failed, so an error row says more than its status.
    ['error', function (r) { return r.error && r.error.length > 140 ? r.error.slice(0, 139) + '\u2026' : r.error; }, 'why'],
  ], recent, u.recent.available ? 'No requests yet.' : 'This gateway keeps no recent-requests log.');
  table($('budgets-table'), [
    ['scope', scopeText],
    ['metric', function (r) { return r.metric + ' / ' + r.period; }],
    ['limit', function (r) { return amount(r, r.limit); }, 'num'],
    ['spent', function (r) { return amount(r, r.spent); }, 'num'],
    ['reserved', function (r) { return amount(r, r.reserved); }, 'num'],
    ['remaining', function (r) { return amount(r, r.remaining); }, 'num'],
    ['resets', function (r) { return when(r.resets_at); }],
  ], u.budgets, u.limits_error || 'No budgets configured.');
  table($('limits-table'), [
    ['scope', scopeText],
    ['metric', function (r) { return r.metric + ' / ' + (r.window_seconds === 60 ? 'minute' : r.window_seconds === 86400 ? 'day' : r.window_seconds + ' s'); }],
    ['limit', function (r) { return r.limit; }, 'num'],
    ['used', function (r) { return r.used; }, 'num'],
    ['remaining', function (r) { return r.remaining; }, 'num'],
  ], u.rate_limits, u.limits_error || 'No rate limits configured.');
}

async function loadUsage() {
  try {
    renderUsage(await api('/playground/api/usage'));
    $('usage-updated').textContent = 'Updated ' + new Date().toLocaleTimeString();
  } catch (e) {
    $('usage-updated').textContent = 'Could not load usage: ' + e.message;
  }
}
function startUsage() {
  loadUsage();
  stopUsage();
  if ($('usage-auto').checked) usageTimer = setInterval(loadUsage, 5000);
}
function stopUsage() {
  if (usageTimer) clearInterval(usageTimer);
  usageTimer = null;
}
$('usage-refresh').addEventListener('click', loadUsage);
$('usage-auto').addEventListener('change', function () {
  if ($('usage-auto').checked) startUsage(); else stopUsage();
});
`;
