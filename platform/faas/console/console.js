/* The platform's web console: one page, routed by the URL's fragment, that uses the REST API and nothing else.
 *
 * The token lives in sessionStorage (this tab only, gone when it closes), goes out in the Authorization
 * header, and is never put in a URL or a cookie. Everything that comes from the platform or from functions
 * (names, results, logs, messages) reaches the page through textContent, never as markup.
 */
"use strict";

const TOKEN_KEY = "faas.console.token";
const $ = (sel, root = document) => root.querySelector(sel);

// ---------------------------------------------------------------- the API
class ApiError extends Error {
  constructor(status, code, message, details = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
  toString() { return `${this.status} ${this.code}: ${this.message}`; }
}

function token() { return sessionStorage.getItem(TOKEN_KEY); }

/* Aborted when the page is left (route()): the reads a page sent and no longer needs (the functions page
 * asks for each function's latest version) stop holding the browser's six connections to the platform,
 * which the next page's reads would otherwise wait behind. Writes are never aborted this way. */
let pageReads = new AbortController();

/* One call of the REST API. Returns the parsed JSON (or the Response itself with raw); throws ApiError with
 * the platform's error code and message, as it sent them. */
async function api(method, path, { body, headers = {}, raw = false, signal, auth } = {}) {
  const init = { method, headers: { ...headers }, signal: signal || (method === "GET" ? pageReads.signal : undefined),
    cache: "no-store", credentials: "omit" };
  const secret = auth || token();
  if (secret) init.headers.Authorization = `Bearer ${secret}`;
  if (body !== undefined) {
    if (typeof body === "string" || body instanceof Uint8Array) init.body = body;
    else { init.body = JSON.stringify(body); init.headers["Content-Type"] = "application/json"; }
  }
  let resp;
  for (let attempt = 1; ; attempt++) {
    try {
      resp = await fetch(path, init);
      break;
    } catch (err) {
      if (err.name === "AbortError") throw err;
      // A read may be sent again (RFC 9110, 9.2.2): a connection the platform closed as idle just as the
      // request left is not worth an error box. A write is not repeated: it may have been done.
      if (method === "GET" && attempt < 2) {
        console.warn(`${method} ${path}: ${err.message}; asking again`);
        await new Promise((resolve) => setTimeout(resolve, 250));
        continue;
      }
      throw new ApiError(0, "NetworkError", `the platform did not answer (${err.message})`);
    }
  }
  if (!resp.ok) {
    let code = "HTTP" + resp.status, message = resp.statusText || "request failed", details = {};
    try {
      const data = await resp.json();
      if (data && data.error) { code = String(data.error.code); message = String(data.error.message); details = data.error; }
    } catch (_) { /* not the platform's JSON error shape: keep the status line */ }
    const err = new ApiError(resp.status, code, message, details);
    if (resp.status === 401 && !auth) loggedOut(err);
    throw err;
  }
  if (raw) return resp;
  if (resp.status === 204) return null;
  const type = resp.headers.get("Content-Type") || "";
  return type.includes("json") ? resp.json() : resp.text();
}

const enc = encodeURIComponent;
const fnPath = (name) => `/v1/functions/${enc(name)}`;

// ---------------------------------------------------------------- the DOM, as text only
/* h("tag.class", {attr: value, onclick: fn}, child, ...): an element; strings become text nodes. */
function h(spec, attrs, ...children) {
  const [tag, ...classes] = spec.split(".");
  const el = document.createElement(tag || "div");
  if (classes.length) el.className = classes.join(" ");
  if (attrs !== null && attrs !== undefined && (typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "text") el.textContent = value;
    else if (key === "value") el.value = value;
    else if (key === "checked" || key === "selected" || key === "disabled" || key === "hidden") el[key] = !!value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, ...children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function replace(el, ...children) { el.replaceChildren(); return append(el, children); }

function table(headers, rows, empty = "Nothing here yet.") {
  if (!rows.length) return h("p.muted", empty);
  return h("div.scroll", h("table",
    h("thead", h("tr", headers.map((c) => h(c.endsWith("#") ? "th.num" : "th", { scope: "col" }, c.replace(/#$/, ""))))),
    h("tbody", rows.map((cells) => h("tr", cells.map((c, i) =>
      h(headers[i] && headers[i].endsWith("#") ? "td.num" : "td", c)))))));
}

const tag = (text, kind) => h("span.tag", { class: `tag ${kind || text}` }, text);

function when(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const d = new Date(seconds * 1000);
  return h("time", { datetime: d.toISOString(), title: d.toISOString() }, ago(seconds));
}

function ago(seconds) {
  const s = Math.round(Date.now() / 1000 - seconds);
  if (s < 0) return "in " + span(-s);
  if (s < 5) return "just now";
  return span(s) + " ago";
}

function span(s) {
  if (s < 90) return `${s} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

function pct(rate) { return rate === null || rate === undefined ? "—" : `${(rate * 100).toFixed(rate < 0.1 ? 1 : 0)} %`; }

function errorBox(err) {
  const log = err instanceof ApiError && typeof err.details.buildLog === "string" ? err.details.buildLog : null;
  return h("div", h("div.error", { role: "alert" }, describe(err)),
    log ? [h("h3", "Build log (its end)"), h("pre.build-log", log)] : null);
}

function describe(err) {
  if (err instanceof ApiError) return `${err.status ? err.status + " " : ""}${err.code}: ${err.message}`;
  return `Error: ${err && err.message ? err.message : err}`;
}

let flashed = null;

/* A message for the page the console shows next (route() clears the banner, then shows it). */
function flash(text) { flashed = text; }

function showBanner(text, kind = "") {
  const b = $("#banner");
  b.className = `banner ${kind}`;
  b.textContent = text;
  b.hidden = !text;
}

/* Run an action from a button: disable it meanwhile, show an API error in `where` (or the banner). */
async function act(button, where, fn) {
  if (button) button.disabled = true;
  if (where) replace(where);
  try {
    return await fn();
  } catch (err) {
    if (err.name === "AbortError") return undefined;
    if (where) replace(where, errorBox(err));
    else showBanner(describe(err));
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

/* A form whose submission runs `action` through act(): its `button` disabled meanwhile, an error in `out`. */
function actionForm(spec, button, out, action, ...children) {
  return h(spec, { onsubmit: (e) => { e.preventDefault(); act(button, out, action); } }, ...children);
}

/* Ask before something destructive: resolves true only on the dialog's confirm button (and, with `word`,
 * once the user typed it). Cancel has the focus first; Escape cancels. */
function confirmDialog(text, { word = null, action = "Delete" } = {}) {
  const dialog = $("#confirm");
  $("#confirm-text").textContent = text;
  $("#confirm-ok").textContent = action;
  $("#confirm-typed-label").hidden = !word;
  $("#confirm-word").textContent = word || "";
  const typed = $("#confirm-typed");
  typed.value = "";
  const ok = $("#confirm-ok");
  ok.disabled = !!word;
  typed.oninput = () => { ok.disabled = typed.value !== word; };
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok" && (!word || typed.value === word)),
      { once: true });
    dialog.returnValue = "cancel";
    dialog.showModal();
    (word ? typed : $("#confirm-cancel")).focus();
  });
}

function b64(bytes) {
  let out = "";
  for (let i = 0; i < bytes.length; i += 0x8000) out += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(out);
}

function unb64(text) {
  const bin = atob(text);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new TextDecoder().decode(bytes);
}

function field(labelText, input, hint) {
  return h("label", labelText, input, hint ? h("small.muted", hint) : null);
}

function envText(env) { return Object.entries(env || {}).map(([k, v]) => `${k}=${v}`).join("\n"); }

function parseEnv(text) {
  const env = {};
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const at = line.indexOf("=");
    if (at < 1) throw new Error(`environment: "${line.slice(0, 40)}" is not NAME=value`);
    env[line.slice(0, at).trim()] = line.slice(at + 1);
  }
  return env;
}

function numberOrNull(input) { return input.value.trim() === "" ? null : Number(input.value); }

// ---------------------------------------------------------------- the code editor
const TEMPLATE = `import json


def handler(event, context):
    """event: the request body (bytes); the return value is the response."""
    name = json.loads(event or b"{}").get("name", "world")
    print(f"hello, {name}")  # goes to the function's log
    return json.dumps({"message": f"Hello, {name}!"})
`;

/* A textarea for index.py: Tab indents (Shift+Tab dedents); Escape, then Tab, leaves it. */
function editor(id, initial) {
  const area = h("textarea.editor", { id, spellcheck: "false", autocapitalize: "off", autocomplete: "off",
    "aria-describedby": `${id}-hint`, rows: 16, value: initial });
  let escaped = false;
  area.addEventListener("keydown", (e) => {
    if (e.key === "Escape") { escaped = true; return; }
    if (e.key === "Tab" && !escaped && !e.ctrlKey && !e.altKey && !e.metaKey) {
      e.preventDefault();
      const { selectionStart: s, selectionEnd: t, value } = area;
      if (e.shiftKey) {
        const lineStart = value.lastIndexOf("\n", s - 1) + 1;
        const cut = value.slice(lineStart, lineStart + 4).match(/^ */)[0].length;
        area.setRangeText("", lineStart, lineStart + cut, "preserve");
      } else {
        area.setRangeText("    ", s, t, "end");
      }
      return;
    }
    escaped = false;
  });
  return [area, h("small.muted", { id: `${id}-hint` }, "Tab indents, Shift+Tab dedents; press Esc, then Tab, to leave the editor.")];
}

/* Code from the inline editor (zipped here, as index.py) or from a chosen zip file: the API's base64 zip. */
async function codeFrom(mode, area, fileInput) {
  if (mode === "inline") {
    return b64(fflate.zipSync({ "index.py": fflate.strToU8(area.value) }, { level: 6 }));
  }
  const file = fileInput.files[0];
  if (!file) throw new Error("choose a zip file");
  return b64(new Uint8Array(await file.arrayBuffer()));
}

/* The choice between an inline index.py and a zip upload, with both inputs. */
function codeSource(prefix, { optional = false, initial = TEMPLATE } = {}) {
  const name = `${prefix}-source`;
  const choices = optional ? [["keep", "Keep the current code"], ["inline", "Inline editor (index.py)"], ["zip", "Zip upload"]]
    : [["inline", "Inline editor (index.py)"], ["zip", "Zip upload"]];
  const radios = choices.map(([value, text], i) => h("label.inline",
    h("input", { type: "radio", name, value, checked: i === 0 }), text));
  const [area, hint] = editor(`${prefix}-code`, initial);
  const file = h("input", { type: "file", id: `${prefix}-zip`, accept: ".zip,application/zip" });
  const inlineBox = h("div.wide", field("index.py", area), hint);
  const zipBox = h("div.wide", field("Zip file with the function's code", file));
  const box = h("fieldset.wide", h("legend", "Code"), h("div.row", radios), inlineBox, zipBox);
  const mode = () => box.querySelector(`input[name="${name}"]:checked`).value;
  const sync = () => { inlineBox.hidden = mode() !== "inline"; zipBox.hidden = mode() !== "zip"; };
  box.addEventListener("change", sync);
  sync();
  return { box, mode, code: () => codeFrom(mode(), area, file) };
}

// ---------------------------------------------------------------- routing
let cleanups = [];
function onLeave(fn) { cleanups.push(fn); }
function every(ms, fn) { const t = setInterval(fn, ms); onLeave(() => clearInterval(t)); }

const ROUTES = [
  [/^\/functions\/?$/, "functions", () => functionsPage()],
  [/^\/new$/, "functions", () => createPage()],
  [/^\/functions\/([^/]+)(?:\/([a-z]+))?$/, "functions", (m) => functionPage(decoded(m[1]), m[2] || "overview")],
  [/^\/logs(?:\/([^/]+))?$/, "logs", (m, q) => logsPage(m[1] ? decoded(m[1]) : null, q.get("rid") || "")],
  [/^\/async(?:\/([^/]+))?$/, "async", (m) => asyncPage(m[1] ? decoded(m[1]) : null)],
  [/^\/metrics$/, "metrics", () => metricsPage()],
];

/* A name from the address, which anyone may have written: its %-escapes decoded, or an error. */
function decoded(part) {
  try {
    return decodeURIComponent(part);
  } catch (_) {
    throw new Error("the address names something with a malformed %-escape");
  }
}

function route(initial = false) {
  for (const fn of cleanups.splice(0)) { try { fn(); } catch (_) { /* leaving anyway */ } }
  pageReads.abort();
  pageReads = new AbortController();
  showBanner(flashed || "", "info");
  flashed = null;
  const main = $("#main");
  if (!token()) { setNav(null); return loginPage(main); }
  const hash = location.hash.replace(/^#/, "") || "/functions";
  const [path, query] = hash.split("?");
  for (const [re, page, render] of ROUTES) {
    const m = path.match(re);
    if (m) {
      setNav(page);
      const params = new URLSearchParams(query || "");
      replace(main);
      // Moved to another page: the keyboard (and a screen reader) starts at its top. On the first load the
      // focus stays at the document's start, where Tab reaches the link that skips the menu.
      if (!initial) main.focus({ preventScroll: true });
      Promise.resolve().then(() => render(m, params)).catch((err) => {
        if (err.name !== "AbortError") replace(main, errorBox(err));  // (aborted: a page left since)
      });
      return undefined;
    }
  }
  location.hash = "#/functions";
  return undefined;
}

function setNav(page) {
  $("#nav").hidden = !page;
  $("#logout").hidden = !page;
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.dataset.page === page) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

function page(title, ...children) {
  document.title = `${title} · FaaS console`;
  return replace($("#main"), h("h1", title), ...children);
}

function loggedOut(err) {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.setItem("faas.console.why", describe(err));
  route();
}

// ---------------------------------------------------------------- log in
function loginPage(main) {
  document.title = "Log in · FaaS console";
  const input = h("input", { id: "token", type: "password", autocomplete: "off", spellcheck: "false", required: true });
  const out = h("div", { "aria-live": "polite" });
  const why = sessionStorage.getItem("faas.console.why");
  sessionStorage.removeItem("faas.console.why");
  if (why) append(out, h("div.error", { role: "alert" }, why));
  const submit = h("button", { type: "submit", id: "login" }, "Log in");
  const form = actionForm("form.card.login", submit, out, async () => {
    const secret = input.value.trim();
    await api("GET", "/v1/functions", { auth: secret });  // 401 (wrong) or 403 (an invoke token) stop here
    sessionStorage.setItem(TOKEN_KEY, secret);
    input.value = "";
    route();
  }, h("h1", "Log in"),
  h("p.muted", "An admin token: FAAS_API_TOKEN, or one made with ", h("code", "faasctl token create --role admin"),
    ". It is kept in this tab's session storage only."),
  field("API token", input), h("div.actions", submit), out);
  replace(main, form);
  input.focus();
}

// ---------------------------------------------------------------- Functions
async function functionsPage() {
  const body = h("div", h("p.muted", "Loading…"));
  page("Functions", h("div.actions", h("a", { href: "#/new", id: "new-function" }, "Create a function"),
    h("span.muted", "Counts are of the last hour, as this control plane saw them.")), body);
  const [list, stats] = await Promise.all([api("GET", "/v1/functions"), api("GET", "/v1/stats")]);
  const byName = Object.fromEntries(stats.functions.map((s) => [s.functionName, s]));
  const versions = await Promise.all(list.functions.map((f) =>
    api("GET", `${fnPath(f.name)}/versions?limit=1`).then((v) => v.versions[0], () => null)));
  const rows = list.functions.map((f, i) => {
    const s = byName[f.name] || {};
    const del = h("button.danger", { type: "button", "aria-label": `Delete ${f.name}`,
      onclick: () => deleteFunction(f.name, del) }, "Delete");
    return [h("a", { href: `#/functions/${enc(f.name)}` }, f.name), tag(f.state),
      `r${f.revision}` + (versions[i] ? ` · v${versions[i].versionId}` : ""),
      when(s.lastInvocationAt), s.invocations || 0, pct(s.errorRate), s.coldStarts || 0, `${f.memoryMB} MB`, del];
  });
  replace(body, table(["Name", "State", "Revision · version", "Last invocation", "Invocations#", "Error rate#",
    "Cold starts#", "Memory#", ""], rows, "No functions yet: create one."));
}

/* A button that deletes what `path` names once `question` is confirmed, then shows the page again. */
function deleteButton(label, question, path) {
  const button = h("button.danger", { type: "button", "aria-label": label, onclick: async () => {
    if (!await confirmDialog(question)) return;
    await act(button, null, async () => { await api("DELETE", path); route(); });
  } }, "Delete");
  return button;
}

async function deleteFunction(name, button) {
  const sure = await confirmDialog(`Delete function ${name}? Its versions, aliases, triggers and containers go with it.`,
    { word: name });
  if (!sure) return;
  await act(button, null, async () => {
    await api("DELETE", fnPath(name));
    flash(`Deleted ${name}.`);
    if (location.hash === "#/functions" || location.hash === "") route();
    else location.hash = "#/functions";
  });
}

/* The form fields of a function's configuration (create and update share them). */
function configFields(f = {}) {
  // No limits here: the API checks the values, and its message says what it accepts.
  const num = (id, value) => h("input", { id, type: "number", value: value ?? "", placeholder: "the platform's default" });
  const inputs = {
    handler: h("input", { id: "cfg-handler", value: f.handler || "index.handler", required: true }),
    description: h("input", { id: "cfg-description", value: f.description || "" }),
    memoryMB: num("cfg-memory", f.memoryMB),
    timeoutSeconds: num("cfg-timeout", f.timeoutSeconds),
    instanceConcurrency: num("cfg-concurrency", f.instanceConcurrency),
    maxInstances: num("cfg-max", f.maxInstances),
    keepAliveSeconds: num("cfg-keepalive", f.keepAliveSeconds),
    keepAlivePolicy: h("select", { id: "cfg-keepalive-policy" }, ["adaptive", "fixed"].map((p) =>
      h("option", { value: p, selected: (f.keepAlivePolicy || "adaptive") === p }, p))),
    environment: h("textarea", { id: "cfg-env", rows: 3, value: envText(f.environment), spellcheck: "false" }),
    layers: h("textarea", { id: "cfg-layers", rows: 2, value: (f.layers || []).join("\n"), spellcheck: "false",
      placeholder: "numpy:3 (a name alone: its newest version)" }),
  };
  const fields = [
    field("Handler", inputs.handler), field("Description", inputs.description),
    field("Memory (MB)", inputs.memoryMB), field("Timeout (s)", inputs.timeoutSeconds),
    field("Instance concurrency", inputs.instanceConcurrency), field("Max instances", inputs.maxInstances),
    field("Keep-alive policy", inputs.keepAlivePolicy, "adaptive: a window learned from its idle times; fixed: the seconds below"),
    field("Keep alive (s)", inputs.keepAliveSeconds, "fixed: the window (300 when empty); adaptive: its bound"),
    h("div.wide", field("Environment (NAME=value, one a line)", inputs.environment)),
    h("div.wide", field("Layers (name:version, one a line; a later one's files win; seen under /opt)", inputs.layers)),
  ];
  const read = () => {
    const out = { handler: inputs.handler.value.trim(), description: inputs.description.value,
      environment: parseEnv(inputs.environment.value), keepAlivePolicy: inputs.keepAlivePolicy.value,
      layers: inputs.layers.value.split("\n").map((line) => line.trim()).filter(Boolean) };
    for (const key of ["memoryMB", "timeoutSeconds", "instanceConcurrency", "maxInstances", "keepAliveSeconds"]) {
      const v = numberOrNull(inputs[key]);
      if (v !== null) out[key] = v;
    }
    // An emptied keep-alive clears it (null: the policy's own window); the other numbers keep theirs when empty.
    if (out.keepAliveSeconds === undefined && f.keepAliveSeconds != null) out.keepAliveSeconds = null;
    return out;
  };
  return { fields, read };
}

function createPage() {
  const name = h("input", { id: "fn-name", required: true, autocomplete: "off", spellcheck: "false" });
  const config = configFields();
  const code = codeSource("create");
  const out = h("div", { "aria-live": "polite" });
  const submit = h("button", { type: "submit", id: "create" }, "Create");
  const form = actionForm("form.grid.card", submit, out, async () => {
    replace(out, h("p.muted", "Building the image…"));
    const body = { name: name.value.trim(), ...config.read(), code: { zipFile: await code.code() } };
    const created = await api("POST", "/v1/functions", { body });
    location.hash = `#/functions/${enc(created.name)}`;
  }, field("Name", name, "lower-case letters, digits and -, starting with a letter; at most 63"), ...config.fields, code.box,
  h("div.actions.wide", submit), h("div.wide", out));
  page("Create a function", form);
  name.focus();
}

// ---------------------------------------------------------------- Function
const TABS = [["overview", "Overview"], ["invoke", "Invoke"], ["versions", "Versions & aliases"],
  ["triggers", "Triggers"], ["instances", "Instances"]];

async function functionPage(name, tab) {
  const f = await api("GET", fnPath(name));
  const tabs = h("nav.tabs", { "aria-label": "Function" }, TABS.map(([id, text]) =>
    h("a", { href: `#/functions/${enc(name)}/${id}`, "aria-current": id === tab ? "page" : null, id: `tab-${id}` }, text)));
  const body = h("section");
  page(name, tabs, body);
  const render = { overview: overviewTab, invoke: invokeTab, versions: versionsTab, triggers: triggersTab,
    instances: instancesTab }[tab];
  if (!render) { replace(body, h("p.muted", "No such tab.")); return; }
  await render(f, body);
}

function overviewTab(f, body) {
  const spec = h("dl.spec", [
    ["State", tag(f.state)], ["Revision", String(f.revision)], ["Runtime", f.runtime], ["Handler", f.handler],
    ["Memory", `${f.memoryMB} MB`], ["Timeout", `${f.timeoutSeconds} s`],
    ["Concurrency / max instances", `${f.instanceConcurrency} / ${f.maxInstances}`],
    ["Reserved instances", String(f.reservedInstances)], ["Keep alive", f.keepAlivePolicy === "fixed" ? `fixed, ${f.keepAliveSeconds ?? 300} s`
      : `adaptive${f.keepAliveSeconds === null ? "" : `, ${f.keepAliveSeconds} s at most`}`],
    ["Async", `${f.async.retries} retries · success → ${f.async.onSuccess || "—"} · failure → ${f.async.onFailure || "—"}`],
    ["Layers", (f.layers || []).length ? h("span", { id: "fn-layers" },
      f.layers.flatMap((ref, i) => (i ? [", ", h("code", ref)] : [h("code", ref)]))) : "—"],
    ["Code SHA-256", h("code", f.codeSha256 || "—")], ["Image", h("code", f.image || "—")],
    ["Last build", f.lastBuild ? `${f.lastBuild.status}, ${f.lastBuild.durationMs} ms` : "—"],
    ["Updated", when(f.updatedAt)],
  ].map(([k, v]) => [h("dt", k), h("dd", v)]));
  const config = configFields(f);
  const code = codeSource("update", { optional: true });
  const out = h("div", { "aria-live": "polite" });
  const save = h("button", { type: "submit", id: "save" }, "Save");
  const form = actionForm("form.grid.card", save, out, async () => {
    const body = config.read();
    if (code.mode() !== "keep") body.code = { zipFile: await code.code() };
    replace(out, h("p.muted", "Saving…"));
    const updated = await api("PUT", fnPath(f.name), { body });
    replace(out, h("div.notice", `Saved: revision ${updated.revision}.`));
  }, ...config.fields, code.box, h("div.actions.wide", save), h("div.wide", out));
  const del = h("button.danger", { type: "button", id: "delete-function", onclick: () => deleteFunction(f.name, del) },
    "Delete this function");
  replace(body, h("div.card", spec), h("h2", "Configuration"), form,
    h("div.actions", h("a", { href: `#/logs/${enc(f.name)}` }, "Logs"),
      h("a", { href: `#/async/${enc(f.name)}` }, "Async invocations"), del));
}

function invokeTab(f, body) {
  const qualifier = h("input", { id: "inv-qualifier", value: "LATEST", spellcheck: "false" });
  const payload = h("textarea", { id: "inv-payload", rows: 6, spellcheck: "false", value: '{"name": "console"}' });
  const kind = h("select", { id: "inv-type" }, h("option", { value: "Sync" }, "Sync"), h("option", { value: "Async" }, "Async"));
  const out = h("div", { id: "inv-out", "aria-live": "polite" });
  const go = h("button", { type: "submit", id: "invoke" }, "Invoke");
  const form = actionForm("form.grid.card", go, out,
    () => invoke(f.name, qualifier.value.trim() || "LATEST", kind.value, payload.value, out), field("Qualifier", qualifier, "LATEST, a version or an alias"), field("Invocation type", kind),
  h("div.wide", field("Payload (the event, sent as it is)", payload)), h("div.actions.wide", go));
  replace(body, form, out);
}

async function invoke(name, qualifier, type, payload, out) {
  const headers = { "X-Fc-Invocation-Type": type };
  if (type === "Sync") headers["X-Fc-Log-Type"] = "Tail";
  const t0 = performance.now();
  const resp = await api("POST", `${fnPath(name)}/invocations?qualifier=${enc(qualifier)}`,
    { body: payload, headers: { ...headers, "Content-Type": "application/octet-stream" }, raw: true });
  const ms = Math.round(performance.now() - t0);
  const shown = [...resp.headers].filter(([k]) => k.startsWith("x-fc-") && k !== "x-fc-log-result");
  const headerList = h("dl.spec", shown.map(([k, v]) => [h("dt", k), h("dd", h("code", v))]));
  if (type === "Async") {
    const { requestId } = await resp.json();
    const status = h("div", { id: "inv-async" }, h("p.muted", "Accepted; waiting for it to end…"));
    replace(out, h("h2", "Accepted"), h("p", "Request ", h("code", { id: "inv-request" }, requestId), ` (${resp.status}, ${ms} ms)`),
      headerList, status);
    await followAsync(requestId, status);
    return;
  }
  const text = await resp.text();
  const logHeader = resp.headers.get("X-Fc-Log-Result");
  const error = resp.headers.get("X-Fc-Error-Type");
  replace(out,
    h("h2", "Result ", error ? tag(error, "failed") : tag("success", "ok")),
    h("p.muted", `${resp.status} in ${ms} ms (round trip from this browser)`),
    h("pre", { id: "inv-result" }, text || "(empty)"),
    h("h3", "Headers"), headerList,
    h("h3", "Log (tail)"), h("pre.log", { id: "inv-log" }, logHeader ? unb64(logHeader) : "(none)"));
}

const ENDED = ["succeeded", "failed", "stopped"];

async function followAsync(requestId, where) {
  for (let i = 0; i < 600; i++) {
    const rec = await api("GET", `/v1/invocations/${enc(requestId)}`);
    replace(where, invocationView(rec));
    if (ENDED.includes(rec.status)) return;
    await new Promise((r) => setTimeout(r, 500));
    if (!where.isConnected) return;
  }
}

function invocationView(rec) {
  const items = [["Status", tag(rec.status)], ["Function", `${rec.functionName} (${rec.qualifier} → ${rec.versionId})`],
    ["Attempts", `${rec.attempts} (${rec.functionErrors} function errors, ${rec.systemRetries} system retries)`],
    ["Accepted", when(rec.acceptedAt)], ["Ended", when(rec.endedAt)],
    ["Next attempt", rec.nextAttemptAt ? when(rec.nextAttemptAt) : "—"],
    ["Condition", rec.condition || "—"], ["Destination", rec.destination || "—"],
    ["Trigger", rec.trigger ? `${rec.trigger.triggerType}/${rec.trigger.triggerName}` : "—"]];
  const stop = ENDED.includes(rec.status) || rec.status === "stopping" ? null
    : h("button.danger", { type: "button", id: "stop-invocation", onclick: () =>
      act(stop, null, () => api("POST", `/v1/invocations/${enc(rec.requestId)}/stop`)) }, "Stop");
  return h("div.card",
    h("dl.spec", items.map(([k, v]) => [h("dt", k), h("dd", v)])), stop,
    rec.lastError ? [h("h3", "Last error"), h("pre", JSON.stringify(rec.lastError, null, 2))] : null,
    "result" in rec ? [h("h3", "Result"), h("pre.async-result", rec.result === null ? "(none yet)" : rec.result)] : null);
}

async function versionsTab(f, body) {
  const [{ versions }, { aliases }] = await Promise.all([
    api("GET", `${fnPath(f.name)}/versions?limit=100`), api("GET", `${fnPath(f.name)}/aliases`)]);
  const desc = h("input", { id: "version-description", placeholder: "what changed" });
  const pubOut = h("div", { "aria-live": "polite" });
  const pub = h("button", { type: "submit", id: "publish" }, "Publish LATEST");
  const publishForm = actionForm("form.row.card", pub, pubOut, async () => {
    const v = await api("POST", `${fnPath(f.name)}/versions`, { body: { description: desc.value } });
    flash(`Published version ${v.versionId}.`);
    route();
  }, field("Description", desc), pub, pubOut);
  const versionRows = versions.map((v) => {
    const del = deleteButton(`Delete version ${v.versionId}`,
      `Delete version ${v.versionId} of ${f.name}? Its containers and image go with it.`,
      `${fnPath(f.name)}/versions/${enc(v.versionId)}`);
    return [h("strong", v.versionId), v.description || "—", `r${v.revision}`, h("code", (v.codeSha256 || "").slice(0, 12) || "—"),
      when(v.createdAt), del];
  });
  const aliasRows = aliases.map((a) => {
    const extra = Object.entries(a.additionalVersionWeight || {});
    const del = deleteButton(`Delete alias ${a.aliasName}`,
      `Delete alias ${a.aliasName}? Callers that use it will get an error.`,
      `${fnPath(f.name)}/aliases/${enc(a.aliasName)}`);
    const weights = extra.length ? `${Math.round((1 - extra[0][1]) * 100)} % → ${a.versionId}, ${Math.round(extra[0][1] * 100)} % → ${extra[0][0]}`
      : `100 % → ${a.versionId}`;
    return [h("strong", a.aliasName), a.versionId, weights, a.description || "—", when(a.updatedAt), del];
  });
  const options = () => versions.map((v) => h("option", { value: v.versionId }, `${v.versionId}${v.description ? " — " + v.description : ""}`));
  const aliasName = h("input", { id: "alias-name", required: true, spellcheck: "false", list: "alias-names" });
  const aliasVersion = h("select", { id: "alias-version", required: true }, options());
  const extraVersion = h("select", { id: "alias-extra" }, h("option", { value: "" }, "none"), options());
  const weight = h("input", { id: "alias-weight", type: "number", min: 0, max: 1, step: 0.01, value: 0 });
  const aliasDesc = h("input", { id: "alias-description" });
  const aliasOut = h("div.wide", { "aria-live": "polite" });
  const setAlias = h("button", { type: "submit", id: "set-alias" }, "Create or move alias");
  const aliasForm = actionForm("form.grid.card", setAlias, aliasOut, async () => {
    const nameText = aliasName.value.trim();
    const body = { versionId: aliasVersion.value, description: aliasDesc.value,
      additionalVersionWeight: extraVersion.value ? { [extraVersion.value]: Number(weight.value) } : {} };
    if (aliases.some((a) => a.aliasName === nameText)) {
      await api("PUT", `${fnPath(f.name)}/aliases/${enc(nameText)}`, { body });
    } else {
      await api("POST", `${fnPath(f.name)}/aliases`, { body: { aliasName: nameText, ...body } });
    }
    flash(`Alias ${nameText} → version ${body.versionId}.`);
    route();
  }, field("Alias", aliasName), field("Version", aliasVersion), field("Additional version", extraVersion),
  field("Its weight (0-1)", weight), field("Description", aliasDesc), h("div.actions", setAlias), aliasOut,
  h("datalist", { id: "alias-names" }, aliases.map((a) => h("option", { value: a.aliasName }))));
  replace(body, h("h2", "Publish"), publishForm,
    h("h2", "Versions"), table(["Version", "Description", "Revision", "Code", "Published", ""], versionRows,
      "No versions yet: publish LATEST."),
    h("h2", "Aliases"), table(["Alias", "Version", "Traffic", "Description", "Updated", ""], aliasRows, "No aliases yet."),
    h("h3", "Create or move an alias"),
    versions.length ? aliasForm : h("p.muted", "Publish a version to give it an alias."));
}

function triggerSummary(t) {
  const c = t.triggerConfig;
  if (t.triggerType === "http") {
    return [h("code", location.origin + t.urlPath), ` · ${c.authType} · ${c.methods.join(", ")}`];
  }
  if (t.triggerType === "timer") {
    return [h("code", c.cronExpression), c.enable ? "" : " · disabled", " · next: ",
      t.nextFiring ? h("time", { datetime: t.nextFiring, class: "next-firing" }, t.nextFiring) : "—"];
  }
  const backlog = t.backlog ? ` · lag ${t.backlog.lag}, pending ${t.backlog.pending}` : "";
  return [h("code", `queue:${c.queueName}`), ` · batch ${c.batchSize}, window ${c.batchWindowSeconds} s${backlog}`];
}

async function triggersTab(f, body) {
  const { triggers } = await api("GET", `${fnPath(f.name)}/triggers`);
  const rows = triggers.map((t) => {
    const del = deleteButton(`Delete trigger ${t.triggerName}`, `Delete trigger ${t.triggerName}?`,
      `${fnPath(f.name)}/triggers/${enc(t.triggerName)}`);
    return [h("strong", t.triggerName), t.triggerType, t.qualifier, h("span", triggerSummary(t)), del];
  });
  const type = h("select", { id: "trigger-type" }, ["http", "timer", "queue"].map((t) => h("option", { value: t }, t)));
  const name = h("input", { id: "trigger-name", required: true, spellcheck: "false" });
  const qualifier = h("input", { id: "trigger-qualifier", value: "LATEST", spellcheck: "false" });
  const auth = h("select", { id: "http-auth" }, h("option", { value: "anonymous" }, "anonymous"),
    h("option", { value: "function" }, "function (a token)"));
  const methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"].map((m) =>
    h("label.inline", h("input", { type: "checkbox", value: m, checked: m === "GET" || m === "POST", class: "http-method" }), m));
  const cron = h("input", { id: "timer-cron", value: "@every 1m", spellcheck: "false" });
  const timerPayload = h("input", { id: "timer-payload" });
  const enable = h("input", { id: "timer-enable", type: "checkbox", checked: true });
  const queueName = h("input", { id: "queue-name", spellcheck: "false" });
  const batch = h("input", { id: "queue-batch", type: "number", min: 1, value: 1 });
  const windowS = h("input", { id: "queue-window", type: "number", min: 0, value: 0 });
  const start = h("select", { id: "queue-start" }, h("option", { value: "latest" }, "latest"), h("option", { value: "earliest" }, "earliest"));
  const groups = {
    http: h("fieldset.wide", h("legend", "HTTP"), h("div.grid", field("Authentication", auth),
      h("div", h("span.muted", "Methods"), h("div.row", methods)))),
    timer: h("fieldset.wide", h("legend", "Timer"), h("div.grid", field("Schedule", cron, "@every 5m, or cron with seconds: 0 0/5 * * * *"),
      field("Payload", timerPayload), h("label.inline", enable, "Enabled"))),
    queue: h("fieldset.wide", h("legend", "Queue"), h("div.grid", field("Queue name", queueName), field("Batch size", batch),
      field("Batch window (s)", windowS), field("Start from", start))),
  };
  const sync = () => { for (const [k, g] of Object.entries(groups)) g.hidden = k !== type.value; };
  type.addEventListener("change", sync);
  sync();
  const out = h("div.wide", { "aria-live": "polite" });
  const add = h("button", { type: "submit", id: "add-trigger" }, "Add trigger");
  const form = actionForm("form.grid.card", add, out, async () => {
    const config = type.value === "http"
      ? { authType: auth.value, methods: methods.map((l) => l.firstChild).filter((c) => c.checked).map((c) => c.value) }
      : type.value === "timer" ? { cronExpression: cron.value, payload: timerPayload.value, enable: enable.checked }
        : { queueName: queueName.value.trim(), batchSize: Number(batch.value), batchWindowSeconds: Number(windowS.value),
          startFrom: start.value };
    await api("POST", `${fnPath(f.name)}/triggers`, { body: { triggerName: name.value.trim(), triggerType: type.value,
      qualifier: qualifier.value.trim() || "LATEST", triggerConfig: config } });
    route();
  }, field("Type", type), field("Name", name), field("Qualifier", qualifier), groups.http, groups.timer, groups.queue,
  h("div.actions.wide", add), out);
  replace(body, table(["Name", "Type", "Qualifier", "Details", ""], rows, "No triggers yet."), h("h2", "Add a trigger"), form);
}

async function instancesTab(f, body) {
  const qualifier = h("input", { id: "inst-qualifier", value: "LATEST", spellcheck: "false" });
  const list = h("div", { "aria-live": "polite" });
  const load = async () => {
    try {
      const data = await api("GET", `${fnPath(f.name)}/instances?qualifier=${enc(qualifier.value.trim() || "LATEST")}`);
      replace(list, h("p.muted", `Versions ${data.versionIds.join(", ")} · ${data.reservedInstances} reserved · refreshed every 2 s`),
        table(["Instance", "State", "Version", "Path", "Idle (s)#", "Active#", "Invocations#", "Age (s)#", "Memory#", "Reserved"],
          data.instances.map((i) => [h("code", i.instanceId.slice(0, 12)), tag(i.state), i.versionId, i.startPath || "—",
            i.idleSeconds.toFixed(1), i.activeInvocations, i.invocations, i.ageSeconds.toFixed(0), `${i.memoryMB} MB`,
            i.reserved ? "yes" : ""]), "No containers now: the next invocation starts one."),
        h("h3", "Keep-alive decisions"),
        table(["Version", "Policy", "Keep alive (s)#", "Pre-warm (s)#", "Idle times#", "Rule"].concat(
          data.keepAlive.some((d) => d.node) ? ["Node"] : []),
          data.keepAlive.map((d) => [d.versionId, d.policy, d.keepAliveSeconds.toFixed(1),
            d.prewarmSeconds ? d.prewarmSeconds.toFixed(1) : "—", d.samples, tag(d.rule)].concat(
            data.keepAlive.some((e) => e.node) ? [d.node || "—"] : [])),
          "No call has reached a version yet."));
    } catch (err) { replace(list, errorBox(err)); }
  };
  qualifier.addEventListener("change", load);
  replace(body, h("div.row", field("Qualifier", qualifier)), list);
  await load();
  every(2000, load);
}

// ---------------------------------------------------------------- Logs
async function functionPicker(id, selected, onpick) {
  const { functions } = await api("GET", "/v1/functions");
  const select = h("select", { id }, h("option", { value: "" }, "— choose a function —"),
    functions.map((f) => h("option", { value: f.name, selected: f.name === selected }, f.name)));
  select.addEventListener("change", () => onpick(select.value));
  return select;
}

async function logsPage(name, rid) {
  const picker = await functionPicker("logs-function", name, (v) => { location.hash = v ? `#/logs/${enc(v)}` : "#/logs"; });

  const filter = h("input", { id: "logs-filter", placeholder: "request id", spellcheck: "false", autocomplete: "off",
    value: rid });
  const follow = h("input", { id: "logs-follow", type: "checkbox", checked: true });
  const state = h("span.muted", { "aria-live": "polite" });
  const out = h("pre.log", { id: "logs-out", tabindex: "0", "aria-label": "Log lines" });
  page("Logs", h("div.row.card", field("Function", picker), field("Filter by request id", filter),
    h("label.inline", follow, "Follow live"), state), out);
  if (!name) { out.textContent = "Choose a function."; return; }
  let lines = [];
  const show = () => {
    const want = filter.value.trim();
    const shown = want ? lines.filter((l) => l.split(" ", 1)[0].startsWith(want)) : lines;
    const stick = out.scrollTop + out.clientHeight >= out.scrollHeight - 8;
    out.textContent = shown.length ? shown.join("\n") : (want ? `No lines of ${want} among the last ${lines.length}.` : "(no lines yet)");
    if (stick) out.scrollTop = out.scrollHeight;
  };
  filter.addEventListener("input", show);
  let controller = null;
  const stop = () => { if (controller) controller.abort(); controller = null; };
  onLeave(stop);
  const add = (text) => {
    lines = lines.concat(text.split("\n").filter((l) => l.length));
    if (lines.length > 5000) lines = lines.slice(-5000);
    show();
  };
  const run = async () => {
    stop();
    lines = [];
    show();
    if (!follow.checked) {
      state.textContent = "";
      add(await api("GET", `${fnPath(name)}/logs?tail=1000`));
      return;
    }
    controller = new AbortController();
    const mine = controller;
    let first = true;
    while (mine === controller) {  // the server ends a follow after a while: ask again
      state.textContent = "following…";
      try {
        const resp = await api("GET", `${fnPath(name)}/logs?tail=${first ? 1000 : 0}&follow=true`, { raw: true, signal: mine.signal });
        first = false;
        const reader = resp.body.getReader();
        const decoder = new TextDecoder();
        let rest = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          rest += decoder.decode(value, { stream: true });
          const cut = rest.lastIndexOf("\n");
          if (cut >= 0) { add(rest.slice(0, cut)); rest = rest.slice(cut + 1); }
        }
      } catch (err) {
        if (err.name === "AbortError") return;
        state.textContent = "";
        replace(state, h("span.error", describe(err)));
        await new Promise((r) => setTimeout(r, 3000));
      }
    }
  };
  follow.addEventListener("change", () => run().catch((err) => showBanner(describe(err))));
  await run();
}

// ---------------------------------------------------------------- Async
async function asyncPage(name) {
  const picker = await functionPicker("async-function", name, (v) => { location.hash = v ? `#/async/${enc(v)}` : "#/async"; });
  const status = h("select", { id: "async-status" }, h("option", { value: "" }, "any"),
    ["queued", "running", "retrying", "stopping", "succeeded", "failed", "stopped"].map((s) => h("option", { value: s }, s)));
  const list = h("div", { id: "async-list", "aria-live": "polite" });
  const detail = h("div", { id: "async-detail" });
  const queue = h("input", { id: "queue-read", placeholder: "queue name", spellcheck: "false", list: "queue-names" });
  const queueNames = h("datalist", { id: "queue-names" });
  const messages = h("div", { id: "queue-messages" });
  const read = h("button", { type: "submit", id: "read-queue" }, "Read");
  page("Async invocations",
    h("div.row.card", field("Function", picker), field("Status", status)), list, detail,
    h("h2", "Destination queue"),
    actionForm("form.row.card", read, messages, () => readQueue(queue.value.trim(), messages),
      field("Queue", queue), queueNames, read), messages);
  if (!name) { replace(list, h("p.muted", "Choose a function.")); return; }
  const f = await api("GET", fnPath(name));
  const targets = [f.async.onSuccess, f.async.onFailure].filter((t) => t && t.startsWith("queue:")).map((t) => t.slice(6));
  append(queueNames, targets.map((q) => h("option", { value: q })));
  if (targets.length && !queue.value) queue.value = targets[0];
  let shown = null;
  const load = async () => {
    try {
      const q = status.value ? `&status=${enc(status.value)}` : "";
      const data = await api("GET", `${fnPath(name)}/invocations?limit=50${q}`);
      const seen = JSON.stringify(data.invocations);
      if (seen === shown) return;  // unchanged: the list (and the keyboard's place in it) stays
      shown = seen;
      replace(list, table(["Request", "Status", "Attempts#", "Accepted", "Ended", "Condition", "Destination", "Trigger"],
        data.invocations.map((r) => [
          h("button.quiet", { type: "button", class: "quiet mono", onclick: () => showRecord(r.requestId, detail) }, r.requestId),
          tag(r.status), r.attempts, when(r.acceptedAt), when(r.endedAt), r.condition || "—", r.destination || "—",
          r.trigger ? `${r.trigger.triggerType}/${r.trigger.triggerName}` : "—"]),
        "No async invocations of this function in its recent records."));
    } catch (err) { replace(list, errorBox(err)); }
  };
  status.addEventListener("change", load);
  await load();
  every(3000, load);
}

async function showRecord(requestId, where) {
  await act(null, where, async () => {
    const rec = await api("GET", `/v1/invocations/${enc(requestId)}`);
    replace(where, h("h2", "Invocation ", h("code", requestId)), invocationView(rec),
      h("a", { href: `#/logs/${enc(rec.functionName)}?rid=${enc(requestId)}` }, "Its log lines"));
  });
}

async function readQueue(name, where) {
  if (!name) throw new Error("name a queue");
  let next = null;
  const rows = [];
  const more = h("button.secondary", { type: "button", id: "queue-more" }, "Load more");
  const render = () => replace(where, table(["Message", "Content"], rows, `Queue ${name} is empty.`), next ? more : null);
  const page = async () => {
    const data = await api("GET", `/v1/queues/${enc(name)}/messages?count=50${next ? "&after=" + enc(next) : ""}`);
    for (const m of data.messages) {
      const content = m.record !== undefined ? JSON.stringify(m.record, null, 2) : String(m.body);
      rows.push([h("code", m.id), h("pre", content)]);
    }
    next = data.messages.length === 50 ? data.next : null;
    render();
  };
  more.addEventListener("click", () => act(more, null, page));
  await page();
}

// ---------------------------------------------------------------- Metrics
/* /metrics, scraped every few seconds while the page is open; the samples outlive a visit to another page. */
const SAMPLE_MS = 2000;
const KEEP = 300;
const samples = [];

function parseMetrics(text) {
  const out = [];
  for (const line of text.split("\n")) {
    if (!line || line[0] === "#") continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/);
    if (!m) continue;
    const labels = {};
    if (m[2]) for (const l of m[2].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2].replace(/\\(.)/g, "$1");
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

function sum(series, name, by, filter) {
  const totals = {};
  for (const s of series) {
    if (s.name !== name || (filter && !filter(s.labels))) continue;
    const key = by ? s.labels[by] : "";
    totals[key] = (totals[key] || 0) + s.value;
  }
  return totals;
}

/* histogram_quantile over the buckets' increase between two samples (buckets by their `le`); null when nothing
 * was observed in between. */
function quantile(q, before, after) {
  const le = (k) => (k === "+Inf" ? Infinity : Number(k));
  const keys = Object.keys(after).sort((a, b) => le(a) - le(b));
  const inc = keys.map((k) => Math.max(0, after[k] - (before[k] || 0)));
  const total = inc[inc.length - 1];
  if (!total) return null;
  const rank = q * total;
  for (let i = 0; i < keys.length; i++) {
    if (inc[i] >= rank) {
      const lo = i ? le(keys[i - 1]) : 0, hi = le(keys[i]), below = i ? inc[i - 1] : 0;
      if (!Number.isFinite(hi)) return lo;
      return lo + (hi - lo) * ((rank - below) / Math.max(inc[i] - below, 1e-9));
    }
  }
  return null;
}

function sampleOf(text, fn) {
  const series = parseMetrics(text);
  const only = fn ? (l) => l.function === fn : null;
  return {
    t: Date.now() / 1000,
    invocations: sum(series, "faas_invocations_total", "outcome", only),
    buckets: sum(series, "faas_invocation_duration_seconds_bucket", "le", only),
    cold: sum(series, "faas_cold_starts_total", "", only)[""] || 0,
    containers: sum(series, "faas_containers", "state", only),
    pending: sum(series, "faas_async_pending_events", "")[""] || 0,
    depth: sum(series, "faas_async_queue_depth", "queue"),
  };
}

const OUTCOMES = ["success", "handled_error", "unhandled_error"];
const STATES = ["Starting", "Idle", "Busy", "Paused"];

/* The charts' data from the samples: x (seconds) and one array a series. */
function chartData(points) {
  const rate = (a, b, va, vb) => (vb >= va && b.t > a.t ? (vb - va) / (b.t - a.t) : null);
  const x = [], inv = OUTCOMES.map(() => []), p50 = [], p99 = [], cold = [], cont = STATES.map(() => []),
    pending = [], ready = [], delayed = [], inflight = [];
  points.forEach((s, i) => {
    const prev = points[i - 1];
    x.push(s.t);
    OUTCOMES.forEach((o, j) => inv[j].push(prev ? rate(prev, s, prev.invocations[o] || 0, s.invocations[o] || 0) : null));
    const q = (v) => { const r = prev ? quantile(v, prev.buckets, s.buckets) : null; return r === null ? null : r * 1000; };
    p50.push(q(0.5));
    p99.push(q(0.99));
    cold.push(prev ? rate(prev, s, prev.cold, s.cold) : null);
    STATES.forEach((st, j) => cont[j].push(s.containers[st] || 0));
    pending.push(s.pending);
    ready.push(s.depth.ready || 0);
    delayed.push(s.depth.delayed || 0);
    inflight.push(s.depth.inflight || 0);
  });
  return {
    invocations: [x, ...inv], duration: [x, p50, p99], cold: [x, cold], containers: [x, ...cont],
    backlog: [x, pending, ready, delayed, inflight],
  };
}

const CHARTS = [
  ["invocations", "Invocations/s by outcome", OUTCOMES, ["#1e7a3c", "#c77700", "#b3261e"]],
  ["duration", "Duration (ms): p50 and p99", ["p50", "p99"], ["#1f5fbf", "#8e24aa"]],
  ["cold", "Cold starts/s", ["cold starts"], ["#00838f"]],
  ["containers", "Containers by state", STATES, ["#c77700", "#1e7a3c", "#1f5fbf", "#757575"]],
  ["backlog", "Async backlog", ["pending", "ready", "delayed", "inflight"], ["#b3261e", "#1f5fbf", "#c77700", "#1e7a3c"]],
];

async function metricsPage() {
  const picker = await functionPicker("metrics-function", null, () => { samples.length = 0; draw(); });
  const state = h("span.muted", { "aria-live": "polite" });
  const grid = h("div.charts");
  page("Metrics", h("div.row.card", field("Function", picker), h("span.muted", `sampled from /metrics every ${SAMPLE_MS / 1000} s; the last ${KEEP * SAMPLE_MS / 60000} minutes are kept`), state), grid);
  picker.options[0].textContent = "all functions";
  const plots = {};
  for (const [id, title, names, colors] of CHARTS) {
    const box = h("section.chart", { id: `chart-${id}`, "data-points": "0", "aria-label": title }, h("h2", title));
    const now = h("p.now", { id: `now-${id}`, "aria-live": "off" });
    append(grid, box);
    const width = Math.max(260, Math.min(box.clientWidth || 560, 1200) - 14);
    plots[id] = { box, now, names, plot: new uPlot({
      width, height: 200, scales: { x: { time: true } },
      axes: [{}, { size: 50 }],
      series: [{}, ...names.map((n, i) => ({ label: n, stroke: colors[i], width: 2, spanGaps: false }))],
      legend: { live: false },
    }, [[], ...names.map(() => [])], box) };
    append(box, now);
  }
  const resize = () => {
    for (const p of Object.values(plots)) p.plot.setSize({ width: Math.max(260, p.box.clientWidth - 14), height: 200 });
  };
  window.addEventListener("resize", resize);
  onLeave(() => window.removeEventListener("resize", resize));
  function draw() {
    const data = chartData(samples);
    for (const [id, p] of Object.entries(plots)) {
      const series = data[id];
      p.plot.setData(series);
      const points = series.slice(1).reduce((n, s) => n + s.filter((v) => v !== null && v !== undefined).length, 0);
      p.box.dataset.points = String(points);
      const latest = series.slice(1).map((s, i) => {
        const v = s.length ? s[s.length - 1] : null;
        return `${p.names[i]} ${v === null || v === undefined ? "—" : Math.round(v * 100) / 100}`;
      });
      p.now.textContent = latest.join(" · ");
    }
  }
  const scrape = async () => {
    try {
      const text = await api("GET", "/metrics");
      samples.push(sampleOf(text, picker.value || null));
      if (samples.length > KEEP) samples.shift();
      state.textContent = `${samples.length} samples`;
      draw();
    } catch (err) { replace(state, h("span.error", describe(err))); }
  };
  await scrape();
  every(SAMPLE_MS, scrape);
}

// ---------------------------------------------------------------- start
window.addEventListener("hashchange", () => route());
document.addEventListener("DOMContentLoaded", () => {
  $("#logout").addEventListener("click", () => { sessionStorage.removeItem(TOKEN_KEY); location.hash = "#/functions"; route(); });
  route(true);
});
