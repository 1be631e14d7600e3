/**
 * Browser script, part 1: where the API is, the admin key, tabs and the route pickers. Plain ES2019
 * kept as a string (String.raw: no template substitutions, backslashes kept) so the ESM and CJS
 * builds and vitest ship the same bytes with no asset pipeline.
 */
export const SCRIPT_CORE = String.raw`
'use strict';
// Every URL comes from the page's own path, so any mount path or global prefix works unchanged.
var base = location.pathname.replace(/\/+$/, '').replace(/\/playground$/, '');
var KEY_STORE = 'llmux.playground.adminKey';
var info = null;

function $(id) { return document.getElementById(id); }
function url(path) { return base + path; }
function adminKey() {
  try { return sessionStorage.getItem(KEY_STORE) || ''; } catch (e) { return ''; }
}
function withKey(headers) {
  var key = adminKey();
  if (key) headers['x-llmux-admin-key'] = key;
  return headers;
}
function notice(text, kind) {
  var n = $('notice');
  n.textContent = text || '';
  n.className = 'notice' + (kind ? ' ' + kind : '');
}
function needKey(message) {
  notice(message || 'This gateway has an admin key: enter it above to use the playground.', 'warn');
  $('admin-key').focus();
}
async function errorText(res) {
  try {
    var body = await res.json();
    if (body && body.error) return body.error.message + (body.error.code ? ' (' + body.error.code + ')' : '');
  } catch (e) { /* not JSON: the status says enough */ }
  return 'HTTP ' + res.status;
}
async function api(path) {
  var res = await fetch(url(path), { headers: withKey({ accept: 'application/json' }), cache: 'no-store' });
  if (res.status === 401) {
    var text = await errorText(res);
    needKey(adminKey() ? 'The admin key was refused: ' + text : undefined);
    var err = new Error(text);
    err.status = 401;
    throw err;
  }
  if (!res.ok) throw new Error(await errorText(res));
  return res.json();
}
function money(v) {
  if (v === undefined || v === null || v === '') return '';
  var n = Number(v);
  if (!isFinite(n)) return String(v);
  if (n === 0) return '$0';
  return '$' + (n < 0.01 ? n.toPrecision(3) : n < 1 ? n.toFixed(4) : n.toFixed(2));
}
function ms(v) { return v === undefined || v === null ? '' : Math.round(v) + ' ms'; }

// Admin key: kept for this tab only, sent as a header on every call.
$('admin-key').value = adminKey();
$('key-form').addEventListener('submit', function (e) {
  e.preventDefault();
  var key = $('admin-key').value.trim();
  try {
    if (key) sessionStorage.setItem(KEY_STORE, key); else sessionStorage.removeItem(KEY_STORE);
  } catch (err) { /* storage disabled: the key lasts until reload */ }
  notice('');
  loadInfo();
  if (!$('view-usage').hidden) loadUsage();
});
$('key-forget').addEventListener('click', function () {
  try { sessionStorage.removeItem(KEY_STORE); } catch (e) { /* nothing stored */ }
  $('admin-key').value = '';
  $('admin-key').focus();
});

// Tabs, with arrow keys between them (WAI-ARIA tabs pattern).
var tabs = [$('tab-play'), $('tab-usage')];
function selectTab(tab, focus) {
  tabs.forEach(function (t) {
    var on = t === tab;
    t.setAttribute('aria-selected', on ? 'true' : 'false');
    t.tabIndex = on ? 0 : -1;
    $(t.getAttribute('aria-controls')).hidden = !on;
  });
  if (focus) tab.focus();
  if (tab.id === 'tab-usage') startUsage(); else stopUsage();
}
tabs.forEach(function (tab, i) {
  tab.addEventListener('click', function () { selectTab(tab, false); });
  tab.addEventListener('keydown', function (e) {
    var next = e.key === 'ArrowRight' ? i + 1 : e.key === 'ArrowLeft' ? i - 1 : e.key === 'Home' ? 0 : e.key === 'End' ? tabs.length - 1 : -1;
    if (next === -1) return;
    e.preventDefault();
    selectTab(tabs[(next + tabs.length) % tabs.length], true);
  });
});

function nodeLabel(node) {
  var indent = new Array(node.depth + 1).join('\u00a0\u00a0');
  var what = node.kind === 'strategy'
    ? node.mode + ' of ' + node.targets + (node.targets === 1 ? ' target' : ' targets')
    : node.provider + (node.model ? ' \u00b7 ' + node.model : '');
  return indent + (node.name ? node.name + ' \u2014 ' : '') + what + '  (' + node.path + ')';
}
function fillRoutes(select, chosen) {
  select.textContent = '';
  var auto = document.createElement('option');
  auto.value = '';
  auto.textContent = info && info.nodes.length ? 'By model name (the server\u2019s routing)' : 'By model name';
  select.append(auto);
  (info ? info.nodes : []).forEach(function (node) {
    var opt = document.createElement('option');
    opt.value = node.path;
    opt.textContent = nodeLabel(node);
    select.append(opt);
  });
  select.value = chosen;
}
function nodeAt(path) {
  return info && info.nodes.filter(function (n) { return n.path === path; })[0];
}
/**
 * The model to send along a route: the one its target fixes; else what was typed — unless that is a
 * model another target fixes (the mock's), which means nothing to this one: its default then.
 */
function modelForRoute(path, typed) {
  var node = nodeAt(path);
  if (!node) return typed;
  if (node.model) return node.model;
  var fixed = info.nodes.some(function (n) { return n.kind === 'target' && n.model === typed; });
  return fixed ? info.default_model : typed;
}
function routeName(path) {
  var node = nodeAt(path);
  return node ? nodeLabel(node).trim() : 'by model name';
}

async function loadInfo() {
  try {
    info = await api('/playground/api/info');
  } catch (e) {
    if (e.status !== 401) notice('Could not read the gateway\u2019s configuration: ' + e.message, 'bad');
    return;
  }
  var list = $('models');
  list.textContent = '';
  info.models.forEach(function (m) {
    var opt = document.createElement('option');
    opt.value = m;
    list.append(opt);
  });
  var targets = info.nodes.filter(function (n) { return n.kind === 'target'; });
  fillRoutes($('route-a'), '');
  fillRoutes($('route-b'), targets.length > 1 ? targets[1].path : targets.length ? targets[0].path : '');
  // The model of the first target the server's routing tries: with OpenAI first and the mock as
  // fallback, a model OpenAI serves — not the mock's, which OpenAI would refuse (and the mock answer).
  if (!$('model').value) $('model').value = (targets[0] && targets[0].model) || info.default_model;
  // Without an admin key there is nothing to type in; say plainly that the page is open instead.
  $('key-form').hidden = !info.guarded;
  $('open-note').hidden = info.guarded;
}
`;
