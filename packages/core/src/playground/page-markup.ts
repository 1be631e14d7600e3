/**
 * The playground's markup. Every control has a label, the tab order follows the reading order, and
 * the answer regions are live so screen readers hear the stream. No URL appears here: the script
 * derives them all from the page's own location, so any mount path or global prefix works.
 */
function pane(id: 'a' | 'b', title: string, hidden: boolean): string {
  return `
      <section class="pane" id="pane-${id}" aria-labelledby="pane-${id}-title"${hidden ? ' hidden' : ''}>
        <h2 id="pane-${id}-title">${title} <span class="route" id="pane-${id}-route"></span></h2>
        <p class="state" id="pane-${id}-state" role="status">Ready.</p>
        <div class="answer" id="pane-${id}-answer" aria-live="polite" aria-label="${title} answer" tabindex="0"></div>
        <dl class="facts" id="pane-${id}-facts"></dl>
      </section>`;
}

export const PAGE_MARKUP = `
<a class="skip" href="#user">Skip to the prompt</a>
<header class="top">
  <h1>llmux <small>playground</small></h1>
  <div role="tablist" aria-label="Views">
    <button role="tab" id="tab-play" aria-selected="true" aria-controls="view-play">Playground</button>
    <button role="tab" id="tab-usage" aria-selected="false" aria-controls="view-usage" tabindex="-1">Usage</button>
  </div>
  <form class="key" id="key-form" autocomplete="off">
    <label for="admin-key">Admin key</label>
    <input type="password" id="admin-key" name="admin-key" autocomplete="off" spellcheck="false" aria-describedby="key-hint">
    <button type="submit" id="key-save">Use key</button>
    <button type="button" id="key-forget">Forget</button>
    <span class="hint" id="key-hint">Kept in this tab only (sessionStorage).</span>
  </form>
  <p class="hint" id="open-note" hidden>No admin key is configured: this page is open to anyone who reaches the gateway.</p>
</header>
<main>
  <p class="notice" id="notice" role="alert"></p>

  <div id="view-play" role="tabpanel" aria-labelledby="tab-play">
    <div class="layout">
      <form id="prompt-form" aria-label="Prompt">
        <fieldset>
          <legend>Route</legend>
          <div class="field">
            <label for="route-a">Send to</label>
            <select id="route-a" aria-describedby="route-hint"></select>
          </div>
          <div class="field">
            <label for="model">Model</label>
            <input type="text" id="model" list="models" autocomplete="off" spellcheck="false" required>
            <datalist id="models"></datalist>
          </div>
          <p class="hint" id="route-hint">A target or strategy of the server config answers alone; "by model" routes as any client would.</p>
          <div class="check">
            <input type="checkbox" id="compare">
            <label for="compare">Compare side by side with a second route</label>
          </div>
          <div class="field" id="route-b-field" hidden>
            <label for="route-b">Second route</label>
            <select id="route-b"></select>
          </div>
        </fieldset>
        <fieldset>
          <legend>Messages</legend>
          <div class="field">
            <label for="system">System message</label>
            <textarea id="system" rows="2" placeholder="You are a helpful assistant."></textarea>
          </div>
          <div class="field">
            <label for="user">User message</label>
            <textarea id="user" rows="5" required aria-describedby="send-hint"></textarea>
          </div>
        </fieldset>
        <fieldset>
          <legend>Parameters</legend>
          <div class="row">
            <div class="field">
              <label for="temperature">Temperature</label>
              <input type="number" id="temperature" min="0" max="2" step="0.1" inputmode="decimal" placeholder="default">
            </div>
            <div class="field">
              <label for="max-tokens">Max tokens</label>
              <input type="number" id="max-tokens" min="1" step="1" inputmode="numeric" placeholder="default">
            </div>
          </div>
          <div class="check">
            <input type="checkbox" id="stream" checked>
            <label for="stream">Stream the answer</label>
          </div>
          <div class="check">
            <input type="checkbox" id="refresh">
            <label for="refresh">Skip the cache (force refresh)</label>
          </div>
        </fieldset>
        <div class="actions">
          <button type="submit" class="primary" id="send">Send</button>
          <button type="button" id="stop" disabled>Stop</button>
          <span class="hint" id="send-hint"><kbd>Ctrl</kbd>+<kbd>Enter</kbd> sends from a message, <kbd>Enter</kbd> from any other field.</span>
        </div>
      </form>
      <div class="panes" id="panes">${pane('a', 'Answer', false)}${pane('b', 'Second route', true)}
      </div>
    </div>
  </div>

  <div id="view-usage" role="tabpanel" aria-labelledby="tab-usage" hidden>
    <div class="usage-bar">
      <button type="button" id="usage-refresh">Refresh</button>
      <div class="check">
        <input type="checkbox" id="usage-auto" checked>
        <label for="usage-auto">Refresh every 5 seconds</label>
      </div>
      <span class="hint" id="usage-updated" role="status"></span>
    </div>
    <div class="stats" id="usage-stats"></div>
    <section class="card" aria-labelledby="recent-title">
      <h2 id="recent-title">Recent requests</h2>
      <div class="table-wrap" tabindex="0" aria-labelledby="recent-title"><table id="recent-table"></table></div>
    </section>
    <section class="card" aria-labelledby="budgets-title">
      <h2 id="budgets-title">Budgets</h2>
      <div class="table-wrap" tabindex="0" aria-labelledby="budgets-title"><table id="budgets-table"></table></div>
    </section>
    <section class="card" aria-labelledby="limits-title">
      <h2 id="limits-title">Rate limits</h2>
      <div class="table-wrap" tabindex="0" aria-labelledby="limits-title"><table id="limits-table"></table></div>
    </section>
  </div>
</main>`;
