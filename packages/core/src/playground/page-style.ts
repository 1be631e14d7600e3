/**
 * The playground's stylesheet, inlined into the page: nothing is fetched from anywhere, so the page
 * works offline, behind any mount path, and under a strict Content-Security-Policy.
 */
export const PAGE_STYLE = `
:root {
  color-scheme: light dark;
  --bg: #f7f7f8; --panel: #fff; --text: #1b1c1f; --muted: #5b5f6a; --line: #d8dae0;
  --accent: #2f5bd3; --accent-text: #fff; --ok: #1c7c3c; --bad: #b42318; --warn: #9a6700;
  --focus: #f59e0b; --code: #eef0f4;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #121317; --panel: #1b1d23; --text: #e8e9ec; --muted: #a3a7b3; --line: #33363f;
    --accent: #7aa2ff; --accent-text: #0b1020; --ok: #5ad184; --bad: #ff8a80; --warn: #f5c451; --code: #262932;
  }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text); }
a { color: var(--accent); }
.skip { position: absolute; left: -9999px; top: 0; }
.skip:focus { left: 8px; top: 8px; z-index: 10; background: var(--panel); padding: 6px 10px; }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
header.top {
  display: flex; flex-wrap: wrap; gap: 8px 16px; align-items: center; justify-content: space-between;
  padding: 10px 16px; background: var(--panel); border-bottom: 1px solid var(--line);
}
header.top h1 { font-size: 18px; margin: 0; }
header.top p { margin: 0; }
header.top h1 small { color: var(--muted); font-weight: 400; font-size: 13px; margin-left: 6px; }
[role="tablist"] { display: flex; gap: 4px; }
[role="tab"] {
  border: 1px solid var(--line); background: transparent; color: var(--text); padding: 6px 14px;
  border-radius: 6px; cursor: pointer; font: inherit;
}
[role="tab"][aria-selected="true"] { background: var(--accent); color: var(--accent-text); border-color: var(--accent); }
form.key { display: flex; gap: 6px; align-items: center; flex-wrap: wrap; }
form.key label { font-size: 13px; color: var(--muted); }
form.key input { width: 14em; }
main { padding: 16px; max-width: 1400px; margin: 0 auto; }
.notice { padding: 8px 12px; border-radius: 6px; margin: 0 0 12px; border: 1px solid var(--line); background: var(--panel); }
.notice.bad { border-color: var(--bad); color: var(--bad); }
.notice.warn { border-color: var(--warn); }
.notice:empty { display: none; }
.layout { display: grid; grid-template-columns: minmax(300px, 400px) 1fr; gap: 16px; align-items: start; }
fieldset, section.card { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; margin: 0 0 12px; min-width: 0; }
legend, section.card h2 { font-weight: 600; font-size: 15px; padding: 0 4px; margin: 0; }
section.card h2 { padding: 0; margin-bottom: 8px; }
.field { display: flex; flex-direction: column; gap: 4px; margin: 8px 0; }
.field > label, .label { font-size: 13px; color: var(--muted); }
.row { display: flex; gap: 10px; flex-wrap: wrap; }
.row > .field { flex: 1 1 110px; }
.check { display: flex; gap: 8px; align-items: center; margin: 8px 0; }
input, select, textarea, button { font: inherit; color: inherit; }
input[type="text"], input[type="number"], input[type="password"], select, textarea {
  width: 100%; padding: 7px 9px; border: 1px solid var(--line); border-radius: 6px; background: var(--bg);
}
textarea { resize: vertical; min-height: 3.2em; }
textarea#user { min-height: 7em; }
.hint { font-size: 12px; color: var(--muted); margin: 2px 0 0; }
.actions { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; margin-top: 10px; }
button { border-radius: 6px; padding: 7px 14px; border: 1px solid var(--line); background: var(--panel); cursor: pointer; }
button.primary { background: var(--accent); color: var(--accent-text); border-color: var(--accent); font-weight: 600; }
button:disabled { opacity: .55; cursor: not-allowed; }
kbd { font: 12px ui-monospace, monospace; border: 1px solid var(--line); border-radius: 4px; padding: 0 4px; background: var(--code); }
.panes { display: grid; grid-template-columns: 1fr; gap: 12px; }
.panes.two { grid-template-columns: 1fr 1fr; }
.pane { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; min-width: 0; }
.pane h2 { font-size: 15px; margin: 0 0 8px; display: flex; gap: 8px; align-items: baseline; flex-wrap: wrap; }
.pane h2 .route { font-weight: 400; color: var(--muted); font-size: 13px; word-break: break-all; }
.answer {
  white-space: pre-wrap; overflow-wrap: anywhere; min-height: 6em; max-height: 55vh; overflow: auto;
  padding: 10px; border-radius: 6px; background: var(--code); font: 14px/1.5 ui-monospace, SFMono-Regular, Menlo, monospace;
}
.answer.error { color: var(--bad); }
.state { font-size: 13px; color: var(--muted); margin: 6px 0; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 3px 12px; margin: 10px 0 0; font-size: 13px; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; font-family: ui-monospace, monospace; overflow-wrap: anywhere; }
.badge { display: inline-block; padding: 0 6px; border-radius: 10px; border: 1px solid var(--line); font-size: 12px; }
.badge.ok { color: var(--ok); border-color: var(--ok); }
.badge.bad { color: var(--bad); border-color: var(--bad); }
.stats { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 12px; margin-bottom: 12px; }
.stat { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
.stat .label { display: block; }
.stat .value { font-size: 22px; font-weight: 600; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { color: var(--muted); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.why { white-space: normal; min-width: 14em; overflow-wrap: anywhere; color: var(--bad); }
caption { text-align: left; color: var(--muted); font-size: 13px; padding-bottom: 4px; }
.usage-bar { display: flex; gap: 10px; align-items: center; flex-wrap: wrap; margin-bottom: 12px; }
[hidden] { display: none !important; }
@media (max-width: 900px) {
  .layout { grid-template-columns: 1fr; }
}
@media (max-width: 700px) {
  .panes.two { grid-template-columns: 1fr; }
  main { padding: 10px; }
  header.top { padding: 8px 10px; }
  form.key input { width: 100%; }
  form.key { width: 100%; }
}
`;
