/**
 * Browser script, part 2: build the request, send it to one or two routes at once, read the SSE
 * stream with fetch + ReadableStream, and show what the gateway reported about each answer.
 */
export const SCRIPT_CHAT = String.raw`
var controllers = [];

function pane(id) {
  return {
    id: id,
    answer: $('pane-' + id + '-answer'),
    state: $('pane-' + id + '-state'),
    facts: $('pane-' + id + '-facts'),
    route: $('pane-' + id + '-route'),
  };
}
function showFacts(p, rows) {
  p.facts.textContent = '';
  rows.forEach(function (row) {
    if (row[1] === undefined || row[1] === null || row[1] === '') return;
    var dt = document.createElement('dt');
    dt.textContent = row[0];
    var dd = document.createElement('dd');
    dd.textContent = String(row[1]);
    dd.setAttribute('data-fact', row[2]);
    p.facts.append(dt, dd);
  });
}

function buildBody() {
  var messages = [];
  var system = $('system').value.trim();
  if (system) messages.push({ role: 'system', content: system });
  messages.push({ role: 'user', content: $('user').value });
  var body = { model: $('model').value.trim(), messages: messages };
  var temperature = $('temperature').value;
  if (temperature !== '') body.temperature = Number(temperature);
  var maxTokens = $('max-tokens').value;
  if (maxTokens !== '') body.max_tokens = Number(maxTokens);
  if ($('stream').checked) {
    body.stream = true;
    // The usage chunk is where the gateway reports a stream's tokens and cost (usage.cost).
    body.stream_options = { include_usage: true };
  }
  return body;
}

/** One SSE event's data lines joined, per the EventSource parsing rules. */
function eventData(block) {
  var data = [];
  block.split(/\r?\n/).forEach(function (line) {
    if (line.indexOf('data:') !== 0) return;
    data.push(line.slice(line.charAt(5) === ' ' ? 6 : 5));
  });
  return data.length ? data.join('\n') : null;
}

async function readStream(res, p, run) {
  var reader = res.body.getReader();
  var decoder = new TextDecoder();
  var buffer = '';
  var handle = function (block) {
    var data = eventData(block);
    if (data === null) return;
    if (data === '[DONE]') { run.done = true; return; }
    var chunk;
    try { chunk = JSON.parse(data); } catch (e) { return; }
    if (chunk.error) { run.error = chunk.error.message || 'the stream broke'; return; }
    var choice = chunk.choices && chunk.choices[0];
    var text = choice && choice.delta && typeof choice.delta.content === 'string' ? choice.delta.content : '';
    if (text) {
      if (run.firstAt === undefined) run.firstAt = performance.now();
      p.answer.append(text);
      run.text += text;
    }
    if (choice && choice.finish_reason) run.finish = choice.finish_reason;
    if (chunk.usage) run.usage = chunk.usage;
  };
  for (;;) {
    var next = await reader.read();
    if (next.done) break;
    buffer += decoder.decode(next.value, { stream: true });
    var blocks = buffer.split(/\r?\n\r?\n/);
    buffer = blocks.pop();
    blocks.forEach(handle);
  }
  buffer += decoder.decode();
  if (buffer.trim()) handle(buffer);
  if (!run.done && !run.error) run.error = 'the stream ended without [DONE]';
}

function attemptsText(record) {
  if (!record || !record.attempts || !record.attempts.length) return '';
  return record.attempts.map(function (a) {
    return a.target + ' ' + (a.status || a.error || 'skipped') + (a.latency_ms !== undefined ? ' (' + Math.round(a.latency_ms) + ' ms)' : '');
  }).join(' \u2192 ');
}

function factsFor(res, run, record) {
  var h = res ? res.headers : new Headers();
  var u = run.usage || {};
  var cost = run.usage && run.usage.cost !== undefined ? run.usage.cost : h.get('x-llmux-cost');
  var costStatus = h.get('x-llmux-cost-status');
  return [
    ['status', res ? res.status + (run.finish ? ' \u00b7 ' + run.finish : '') : '', 'status'],
    ['provider', h.get('x-llmux-provider'), 'provider'],
    ['target', h.get('x-llmux-target'), 'target'],
    ['retries', h.get('x-llmux-retries'), 'retries'],
    ['fallbacks', record ? record.fallbacks : '', 'fallbacks'],
    ['attempts', attemptsText(record), 'attempts'],
    ['latency', ms(run.endAt - run.startAt), 'latency'],
    ['time to first token', run.firstAt !== undefined ? ms(run.firstAt - run.startAt) : '', 'ttft'],
    ['tokens', run.usage ? (u.prompt_tokens || 0) + ' in \u00b7 ' + (u.completion_tokens || 0) + ' out \u00b7 ' + (u.total_tokens || 0) + ' total' : '', 'tokens'],
    ['cost', cost !== null && cost !== undefined ? money(cost) : costStatus || '', 'cost'],
    ['cache', h.get('x-llmux-cache'), 'cache'],
    ['trace id', h.get('x-llmux-trace-id'), 'trace'],
  ];
}

/** The gateway's own record of the request (attempts, fallbacks), from the recent-requests log. */
async function recordOf(traceId) {
  if (!traceId) return null;
  try {
    var found = await api('/playground/api/requests?trace_id=' + encodeURIComponent(traceId));
    return found.data && found.data[0] || null;
  } catch (e) {
    return null;
  }
}

async function send(p, routePath, body, controller) {
  var run = { startAt: performance.now(), text: '' };
  p.answer.textContent = '';
  p.answer.classList.remove('error');
  p.answer.setAttribute('aria-busy', 'true');
  p.route.textContent = routeName(routePath);
  p.state.textContent = 'Sending\u2026';
  showFacts(p, []);
  // Unpinned, the page calls /v1/chat/completions exactly as any client would. A pin, or gateway keys
  // the admin has none of, go through the playground's own guarded route with the admin key.
  var guardedRoute = !!routePath || !!(info && info.auth);
  var headers = { 'content-type': 'application/json', accept: body.stream ? 'text/event-stream' : 'application/json' };
  if (guardedRoute) withKey(headers);
  if (routePath) headers['x-llmux-playground-target'] = routePath;
  if ($('refresh').checked) headers['x-llmux-cache-force-refresh'] = 'true';
  var res = null;
  try {
    res = await fetch(url(guardedRoute ? '/playground/api/chat' : '/v1/chat/completions'), {
      method: 'POST', headers: headers, body: JSON.stringify(body), signal: controller.signal, cache: 'no-store',
    });
    if (!res.ok) {
      run.error = await errorText(res);
      if (res.status === 401) needKey();
    } else if ((res.headers.get('content-type') || '').indexOf('text/event-stream') !== -1) {
      p.state.textContent = 'Streaming\u2026';
      await readStream(res, p, run);
    } else {
      var completion = await res.json();
      run.firstAt = performance.now();
      var choice = completion.choices && completion.choices[0];
      run.text = choice && choice.message && typeof choice.message.content === 'string' ? choice.message.content : '';
      run.finish = choice && choice.finish_reason;
      run.usage = completion.usage;
      p.answer.textContent = run.text;
    }
  } catch (e) {
    run.error = controller.signal.aborted ? 'stopped' : 'network error: ' + e.message;
  }
  run.endAt = performance.now();
  p.answer.removeAttribute('aria-busy');
  if (run.error) {
    if (!run.text) p.answer.classList.add('error');
    if (!run.text) p.answer.textContent = run.error;
    p.state.textContent = 'Failed: ' + run.error;
  } else {
    p.state.textContent = 'Done.';
  }
  showFacts(p, factsFor(res, run, null));
  var record = await recordOf(res && res.headers.get('x-llmux-trace-id'));
  if (record) showFacts(p, factsFor(res, run, record));
}

async function sendAll() {
  if (controllers.length) return;
  var body = buildBody();
  if (!body.model) {
    var pinned = nodeAt($('route-a').value);
    if (pinned && pinned.model) body.model = $('model').value = pinned.model;
  }
  if (!body.model) { notice('Choose a model.', 'bad'); $('model').focus(); return; }
  if (!$('user').value.trim()) { notice('Write a user message.', 'bad'); $('user').focus(); return; }
  notice('');
  var jobs = [[pane('a'), $('route-a').value]];
  if ($('compare').checked) jobs.push([pane('b'), $('route-b').value]);
  // Stacked on a narrow screen, the answer is below the form: bring it into view (focus stays put).
  if (window.matchMedia('(max-width: 900px)').matches) $('pane-a').scrollIntoView({ block: 'start' });
  $('send').disabled = true;
  $('stop').disabled = false;
  controllers = jobs.map(function () { return new AbortController(); });
  try {
    // Both panes get the same prompt at the same moment: a fair side-by-side comparison.
    // Each pane with the model its own route takes (see modelForRoute).
    await Promise.all(jobs.map(function (job, i) {
      return send(job[0], job[1], Object.assign({}, body, { model: modelForRoute(job[1], body.model) }), controllers[i]);
    }));
  } finally {
    controllers = [];
    $('send').disabled = false;
    $('stop').disabled = true;
  }
}

function stopAll() {
  controllers.forEach(function (c) { c.abort(); });
}

$('prompt-form').addEventListener('submit', function (e) {
  e.preventDefault();
  sendAll();
});
$('prompt-form').addEventListener('keydown', function (e) {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
    e.preventDefault();
    sendAll();
  }
});
// Escape stops wherever focus is: often on the answer being read, outside the form.
document.addEventListener('keydown', function (e) {
  if (e.key === 'Escape' && controllers.length) stopAll();
});
$('stop').addEventListener('click', stopAll);
$('compare').addEventListener('change', function () {
  var on = $('compare').checked;
  $('route-b-field').hidden = !on;
  $('pane-b').hidden = !on;
  $('panes').classList.toggle('two', on);
  $('pane-a-title').firstChild.textContent = on ? 'First route ' : 'Answer ';
});
$('route-a').addEventListener('change', function () {
  if ($('route-a').value) $('model').value = modelForRoute($('route-a').value, $('model').value.trim());
});
`;
