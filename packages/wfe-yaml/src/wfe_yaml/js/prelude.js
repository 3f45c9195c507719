// The step API and the web APIs V8 lacks, installed into each fresh context before the user's script.
//
// Evaluated as one function expression; the worker calls it with the bridge (an async Python function) and the
// job's setup as JSON. Everything the script may reach is a global defined here; the bridge itself stays in this
// closure, so scripts can only ask the parent for what these functions ask.
(function (bridge, setupJson) {
  "use strict";
  const setup = JSON.parse(setupJson);
  const scriptName = setup.scriptName;
  const global = globalThis;
  const call = (kind, payload) => bridge(kind, payload);

  // ---- errors --------------------------------------------------------------------------------------------------
  const denied = (kind, resource) => {
    const err = new Error(`Permission denied: ${kind} access to '${resource}'`);
    err.name = "PermissionDenied";
    return err;
  };
  const errorFromReply = (reply) => {
    const err = reply.name === "TypeError" ? new TypeError(reply.error) : new Error(reply.error);
    if (reply.name && reply.name !== "TypeError") err.name = reply.name;
    return err;
  };
  const ask = async (kind, request) => {
    const reply = JSON.parse(await call(kind, JSON.stringify(request)));
    if (reply.error !== undefined) throw errorFromReply(reply);
    return reply;
  };

  // ---- logging ---------------------------------------------------------------------------------------------------
  const show = (value) => {
    if (typeof value === "string") return value;
    if (value instanceof Error) return value.stack || String(value);
    if (typeof value === "function") return `[Function ${value.name || "anonymous"}]`;
    if (typeof value === "bigint") return `${value}n`;
    if (typeof value === "symbol" || value === undefined) return String(value);
    try {
      const seen = new WeakSet();
      return JSON.stringify(value, (k, v) => {
        if (typeof v === "bigint") return `${v}n`;
        if (typeof v === "object" && v !== null) {
          if (seen.has(v)) return "[Circular]";
          seen.add(v);
        }
        return v;
      });
    } catch (e) {
      return String(value);
    }
  };
  // Lines are sent in batches, once per microtask checkpoint: a loop that logs thousands of lines costs one
  // round trip to the host, and the lines still arrive while the script runs.
  // A step's whole log is capped too (lines and characters): a synchronous loop cannot hand its lines over
  // before it ends, so without a cap they would pile up here until the heap ran out.
  const MAX_LINE = 65536;
  const mib = (chars) => Math.ceil(chars / (1024 * 1024));
  const pendingLines = [];
  let flushScheduled = false;
  let loggedLines = 0;
  let loggedChars = 0;
  let droppedLines = 0;
  const flushLogs = () => {
    flushScheduled = false;
    if (pendingLines.length) call("log", JSON.stringify(pendingLines.splice(0)));
  };
  const queue = (stream, text) => {
    pendingLines.push([stream, text]);
    if (!flushScheduled) {
      flushScheduled = true;
      Promise.resolve().then(flushLogs);
    }
  };
  const emit = (stream, args) => {
    if (droppedLines) {
      droppedLines++;
      return;
    }
    let text = args.map(show).join(" ");
    if (text.length > MAX_LINE) text = `${text.slice(0, MAX_LINE)}... [${text.length - MAX_LINE} more characters]`;
    if (loggedLines >= setup.maxLogLines || loggedChars + text.length > setup.maxLogChars) {
      droppedLines = 1;
      queue("log", `[log limit reached: a step logs at most ${setup.maxLogLines} lines and ` +
        `${mib(setup.maxLogChars)} MiB; later lines are dropped]`);
      return;
    }
    loggedLines++;
    loggedChars += text.length;
    queue(stream, text);
  };
  const reportDropped = () => {
    if (droppedLines) queue("log", `[${droppedLines} log lines dropped over the step's log limit]`);
  };
  const consoleObject = {};
  for (const [method, stream] of [["log", "stdout"], ["info", "stdout"], ["debug", "stdout"], ["trace", "stdout"],
                                  ["warn", "stderr"], ["error", "stderr"]]) {
    consoleObject[method] = (...args) => emit(stream, args);
  }
  consoleObject.assert = (cond, ...args) => { if (!cond) emit("stderr", ["Assertion failed", ...args]); };
  consoleObject.table = (data) => emit("stdout", [data]);
  consoleObject.dir = (data) => emit("stdout", [data]);
  const timers = new Map();
  const counts = new Map();
  consoleObject.time = (label = "default") => { timers.set(String(label), Date.now()); };
  consoleObject.timeLog = (label = "default", ...args) => {
    const t0 = timers.get(String(label));
    if (t0 !== undefined) emit("stdout", [`${label}: ${Date.now() - t0}ms`, ...args]);
  };
  consoleObject.timeEnd = (label = "default") => {
    consoleObject.timeLog(label);
    timers.delete(String(label));
  };
  consoleObject.count = (label = "default") => {
    const n = (counts.get(String(label)) || 0) + 1;
    counts.set(String(label), n);
    emit("stdout", [`${label}: ${n}`]);
  };
  consoleObject.countReset = (label = "default") => { counts.delete(String(label)); };
  consoleObject.group = consoleObject.groupCollapsed = (...args) => { if (args.length) emit("stdout", args); };
  consoleObject.groupEnd = () => {};
  global.console = Object.freeze(consoleObject);

  // ---- timers ----------------------------------------------------------------------------------------------------
  // mini-racer's setTimeout throws for a 0 delay and never fires without a delay; wrap it, and keep count of the
  // pending timers so the run, like Deno's event loop, ends only when none is left.
  const rawSetTimeout = global.setTimeout;
  const rawClearTimeout = global.clearTimeout;
  const pendingTimers = new Map();
  let timersIdle = null;
  let failRun = null;
  const settleTimers = () => {
    if (pendingTimers.size === 0 && timersIdle) {
      const resolve = timersIdle;
      timersIdle = null;
      resolve();
    }
  };
  let nextTimerId = 1;
  const schedule = (id, fn, delay, args) => {
    const rawId = rawSetTimeout(() => {
      if (!pendingTimers.has(id)) return;
      pendingTimers.delete(id);
      try {
        if (typeof fn === "function") fn(...args);
      } catch (e) {
        failRun(e);
      }
      settleTimers();
    }, Math.max(1, Number(delay) || 0));
    pendingTimers.set(id, rawId);
  };
  global.setTimeout = (fn, delay, ...args) => {
    const id = nextTimerId++;
    schedule(id, fn, delay, args);
    return id;
  };
  global.setInterval = (fn, delay, ...args) => {
    const id = nextTimerId++;
    const tick = () => {
      schedule(id, () => { tick(); fn(...args); }, delay, []);
    };
    tick();
    return id;
  };
  global.clearTimeout = global.clearInterval = (id) => {
    const rawId = pendingTimers.get(id);
    if (rawId === undefined) return;
    pendingTimers.delete(id);
    rawClearTimeout(rawId);
    settleTimers();
  };
  global.queueMicrotask = (fn) => { Promise.resolve().then(fn).catch((e) => failRun(e)); };

  // ---- base64, TextEncoder, TextDecoder ----------------------------------------------------------------------------
  const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const B64_INDEX = new Map([...B64].map((c, i) => [c, i]));
  const invalidCharacter = (message) => {
    const err = new Error(message);
    err.name = "InvalidCharacterError";
    return err;
  };
  const bytesToBase64 = (bytes) => {
    let out = "";
    for (let i = 0; i < bytes.length; i += 3) {
      const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
      out += B64[(n >> 18) & 63] + B64[(n >> 12) & 63];
      out += i + 1 < bytes.length ? B64[(n >> 6) & 63] : "=";
      out += i + 2 < bytes.length ? B64[n & 63] : "=";
    }
    return out;
  };
  const base64ToBytes = (text) => {
    let s = String(text).replace(/[\t\n\f\r ]/g, "");
    if (s.length % 4 === 0) s = s.replace(/==?$/, "");
    if (s.length % 4 === 1 || /[^A-Za-z0-9+/]/.test(s)) {
      throw invalidCharacter("Failed to decode base64: the string is not correctly encoded.");
    }
    const out = new Uint8Array(Math.floor((s.length * 3) / 4));
    let bits = 0, value = 0, j = 0;
    for (const c of s) {
      value = (value << 6) | B64_INDEX.get(c);
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out[j++] = (value >> bits) & 255;
      }
    }
    return out;
  };
  global.btoa = (data) => {
    const s = String(data);
    const bytes = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c > 255) throw invalidCharacter("btoa: the string contains characters outside of the Latin1 range.");
      bytes[i] = c;
    }
    return bytesToBase64(bytes);
  };
  global.atob = (data) => {
    const bytes = base64ToBytes(data);
    let out = "";
    for (let i = 0; i < bytes.length; i += 8192) out += String.fromCharCode(...bytes.subarray(i, i + 8192));
    return out;
  };

  const utf8Encode = (input) => {
    const s = String(input);
    const out = [];
    for (let i = 0; i < s.length; i++) {
      let c = s.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
        const d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
        }
      }
      if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
      if (c < 0x80) out.push(c);
      else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
      else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
      else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    }
    return Uint8Array.from(out);
  };
  const toBytes = (input) => {
    if (input === undefined) return new Uint8Array(0);
    if (input instanceof ArrayBuffer) return new Uint8Array(input);
    if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
    throw new TypeError("The provided value is not an ArrayBuffer or an ArrayBufferView");
  };
  const utf8Decode = (bytes, fatal, ignoreBOM) => {
    let out = "";
    let i = 0;
    if (!ignoreBOM && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) i = 3;
    const bad = () => {
      if (fatal) throw new TypeError("The encoded data was not valid for encoding utf-8");
      return 0xfffd;
    };
    const units = [];
    const flush = () => { out += String.fromCharCode(...units); units.length = 0; };
    while (i < bytes.length) {
      const b = bytes[i];
      let cp, need, min;
      if (b < 0x80) { cp = b; need = 0; min = 0; }
      else if (b >= 0xc2 && b <= 0xdf) { cp = b & 0x1f; need = 1; min = 0x80; }
      else if (b >= 0xe0 && b <= 0xef) { cp = b & 0x0f; need = 2; min = 0x800; }
      else if (b >= 0xf0 && b <= 0xf4) { cp = b & 0x07; need = 3; min = 0x10000; }
      else { units.push(bad()); i++; continue; }
      let j = 1;
      for (; j <= need; j++) {
        const nb = bytes[i + j];
        if (nb === undefined || (nb & 0xc0) !== 0x80) break;
        cp = (cp << 6) | (nb & 0x3f);
      }
      if (j <= need || cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        units.push(bad());
        i += Math.max(1, j);
        continue;
      }
      i += need + 1;
      if (cp >= 0x10000) {
        cp -= 0x10000;
        units.push(0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
      } else {
        units.push(cp);
      }
      if (units.length > 8000) flush();
    }
    flush();
    return out;
  };
  class TextEncoder {
    get encoding() { return "utf-8"; }
    encode(input = "") { return utf8Encode(input); }
    encodeInto(input, dest) {
      const bytes = utf8Encode(input);
      const n = Math.min(bytes.length, dest.length);
      dest.set(bytes.subarray(0, n));
      return { read: String(input).length, written: n };
    }
  }
  class TextDecoder {
    #fatal;
    #ignoreBOM;
    constructor(label = "utf-8", options = {}) {
      const name = String(label).trim().toLowerCase();
      if (name !== "utf-8" && name !== "utf8" && name !== "unicode-1-1-utf-8") {
        throw new RangeError(`The encoding label provided ('${label}') is not supported: only utf-8 is.`);
      }
      this.#fatal = Boolean(options.fatal);
      this.#ignoreBOM = Boolean(options.ignoreBOM);
    }
    get encoding() { return "utf-8"; }
    get fatal() { return this.#fatal; }
    get ignoreBOM() { return this.#ignoreBOM; }
    decode(input) { return utf8Decode(toBytes(input), this.#fatal, this.#ignoreBOM); }
  }
  global.TextEncoder = TextEncoder;
  global.TextDecoder = TextDecoder;

  // ---- URL and URLSearchParams -------------------------------------------------------------------------------------
  const SPECIAL_PORTS = { "http:": "80", "https:": "443", "ws:": "80", "wss:": "443", "ftp:": "21", "file:": "" };
  const formEncode = (s) => encodeURIComponent(s).replace(/%20/g, "+").replace(/[!'()~]/g,
    (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
  const formDecode = (s) => {
    const t = s.replace(/\+/g, " ");
    try { return decodeURIComponent(t); } catch (e) { return t; }
  };
  class URLSearchParams {
    #list = [];
    #onChange = null;
    constructor(init = "") {
      if (typeof init === "string") {
        this.#parse(init);
      } else if (init instanceof URLSearchParams) {
        this.#list = [...init];
      } else if (init && typeof init[Symbol.iterator] === "function") {
        for (const pair of init) {
          const [k, v] = [...pair];
          this.#list.push([String(k), String(v)]);
        }
      } else if (init && typeof init === "object") {
        for (const k of Object.keys(init)) this.#list.push([k, String(init[k])]);
      }
    }
    #parse(text) {
      this.#list = [];
      const s = text.startsWith("?") ? text.slice(1) : text;
      for (const part of s.split("&")) {
        if (!part) continue;
        const eq = part.indexOf("=");
        const k = eq < 0 ? part : part.slice(0, eq);
        const v = eq < 0 ? "" : part.slice(eq + 1);
        this.#list.push([formDecode(k), formDecode(v)]);
      }
    }
    static _link(params, onChange, text) { params.#parse(text); params.#onChange = onChange; }
    static _reparse(params, text) { params.#parse(text); }
    #changed() { if (this.#onChange) this.#onChange(this.toString()); }
    get size() { return this.#list.length; }
    append(k, v) { this.#list.push([String(k), String(v)]); this.#changed(); }
    delete(k, v) {
      this.#list = this.#list.filter(([a, b]) => a !== String(k) || (v !== undefined && b !== String(v)));
      this.#changed();
    }
    get(k) { const e = this.#list.find(([a]) => a === String(k)); return e ? e[1] : null; }
    getAll(k) { return this.#list.filter(([a]) => a === String(k)).map(([, b]) => b); }
    has(k, v) { return this.#list.some(([a, b]) => a === String(k) && (v === undefined || b === String(v))); }
    set(k, v) {
      const key = String(k);
      const i = this.#list.findIndex(([a]) => a === key);
      if (i < 0) this.#list.push([key, String(v)]);
      else this.#list = [...this.#list.slice(0, i), [key, String(v)],
                         ...this.#list.slice(i + 1).filter(([a]) => a !== key)];
      this.#changed();
    }
    sort() { this.#list.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0)); this.#changed(); }
    forEach(fn, thisArg) { for (const [k, v] of this.#list) fn.call(thisArg, v, k, this); }
    keys() { return this.#list.map(([k]) => k)[Symbol.iterator](); }
    values() { return this.#list.map(([, v]) => v)[Symbol.iterator](); }
    entries() { return this.#list.map(([k, v]) => [k, v])[Symbol.iterator](); }
    [Symbol.iterator]() { return this.entries(); }
    toString() { return this.#list.map(([k, v]) => `${formEncode(k)}=${formEncode(v)}`).join("&"); }
  }

  const URL_RE = /^([a-zA-Z][a-zA-Z0-9+.-]*:)(?:\/\/([^/?#]*))?([^?#]*)(\?[^#]*)?(#.*)?$/;
  const AUTHORITY_RE = /^(?:([^:@]*)(?::([^@]*))?@)?(\[[0-9a-fA-F:.]+\]|[^:]*)(?::(\d*))?$/;
  const encodeSet = (s, re) => s.replace(re, (c) => encodeURIComponent(c));
  const removeDotSegments = (path) => {
    const out = [];
    const segments = path.split("/");
    for (let i = 0; i < segments.length; i++) {
      const seg = segments[i];
      const last = i === segments.length - 1;
      if (seg === "..") {
        if (out.length > 1) out.pop();
        if (last) out.push("");
      } else if (seg === ".") {
        if (last) out.push("");
      } else {
        out.push(seg);
      }
    }
    const joined = out.join("/");
    return joined.startsWith("/") ? joined : "/" + joined;
  };
  class URL {
    #protocol = ""; #username = ""; #password = ""; #hostname = ""; #port = "";
    #pathname = ""; #search = ""; #hash = ""; #hasAuthority = false; #params;
    constructor(url, base) {
      const input = String(url).trim();
      const m = URL_RE.exec(input);
      if (m) {
        this.#assign(m);
      } else if (base !== undefined) {
        const b = base instanceof URL ? base : new URL(base);
        this.#resolve(input, b);
      } else {
        throw new TypeError(`Invalid URL: '${input}'`);
      }
      this.#params = new URLSearchParams();
      URLSearchParams._link(this.#params, (q) => { this.#search = q ? "?" + q : ""; }, this.#search);
    }
    static canParse(url, base) {
      try { new URL(url, base); return true; } catch (e) { return false; }
    }
    static parse(url, base) {
      try { return new URL(url, base); } catch (e) { return null; }
    }
    get #special() { return Object.hasOwn(SPECIAL_PORTS, this.#protocol); }
    #assign(m) {
      this.#protocol = m[1].toLowerCase();
      this.#hasAuthority = m[2] !== undefined;
      if (this.#hasAuthority) this.#setAuthority(m[2]);
      else if (this.#special && this.#protocol !== "file:") throw new TypeError(`Invalid URL: '${m[0]}'`);
      this.#setPath(m[3]);
      this.#search = m[4] && m[4] !== "?" ? encodeSet(m[4], /[ "<>`#]/g) : "";
      this.#hash = m[5] && m[5] !== "#" ? encodeSet(m[5], /[ "<>`]/g) : "";
    }
    #setAuthority(authority) {
      const a = AUTHORITY_RE.exec(authority);
      if (!a) throw new TypeError(`Invalid URL: bad host '${authority}'`);
      this.#username = a[1] ? encodeSet(a[1], /[ "<>`#?{}/:;=@[\]\\^|]/g) : "";
      this.#password = a[2] ? encodeSet(a[2], /[ "<>`#?{}/:;=@[\]\\^|]/g) : "";
      const host = a[3];
      if (/[\s<>^|%]/.test(host) || (this.#special && this.#protocol !== "file:" && host === "")) {
        throw new TypeError(`Invalid URL: bad host '${host}'`);
      }
      this.#hostname = this.#special ? host.toLowerCase() : host;
      const port = a[4] || "";
      if (port !== "" && Number(port) > 65535) throw new TypeError(`Invalid URL: bad port '${port}'`);
      this.#port = port === "" || port.replace(/^0+(?=\d)/, "") === SPECIAL_PORTS[this.#protocol]
        ? "" : String(Number(port));
    }
    #setPath(path) {
      let p = this.#special ? path.replace(/\\/g, "/") : path;
      if (this.#special || this.#hasAuthority) p = removeDotSegments(p || "/");
      this.#pathname = encodeSet(p, /[ "<>`#?{}]/g);
    }
    #resolve(input, b) {
      this.#protocol = b.protocol;
      this.#hasAuthority = b.host !== "" || b.protocol === "file:";
      if (input.startsWith("//")) {
        const m = URL_RE.exec(this.#protocol + input);
        if (!m) throw new TypeError(`Invalid URL: '${input}'`);
        this.#assign(m);
        return;
      }
      this.#username = b.username; this.#password = b.password;
      this.#hostname = b.hostname; this.#port = b.port;
      const m = /^([^?#]*)(\?[^#]*)?(#.*)?$/.exec(input);
      const [, path, query, fragment] = m;
      if (path === "") {
        this.#pathname = b.pathname;
        this.#search = query !== undefined ? (query === "?" ? "" : query) : b.search;
      } else {
        const merged = path.startsWith("/") ? path : b.pathname.replace(/[^/]*$/, "") + path;
        this.#setPath(merged);
        this.#search = query && query !== "?" ? encodeSet(query, /[ "<>`#]/g) : "";
      }
      this.#hash = fragment && fragment !== "#" ? encodeSet(fragment, /[ "<>`]/g) : "";
    }
    get protocol() { return this.#protocol; }
    get username() { return this.#username; }
    get password() { return this.#password; }
    get hostname() { return this.#hostname; }
    set hostname(v) { this.#hostname = String(v).toLowerCase(); }
    get port() { return this.#port; }
    set port(v) { const p = String(v); this.#port = p === SPECIAL_PORTS[this.#protocol] ? "" : p; }
    get host() { return this.#hostname + (this.#port ? ":" + this.#port : ""); }
    get origin() {
      return this.#special && this.#protocol !== "file:" ? `${this.#protocol}//${this.host}` : "null";
    }
    get pathname() { return this.#pathname; }
    set pathname(v) { this.#setPath(String(v).startsWith("/") ? String(v) : "/" + String(v)); }
    get search() { return this.#search; }
    set search(v) {
      const s = String(v);
      this.#search = s === "" || s === "?" ? "" : (s.startsWith("?") ? s : "?" + s);
      URLSearchParams._reparse(this.#params, this.#search);
    }
    get searchParams() { return this.#params; }
    get hash() { return this.#hash; }
    set hash(v) { const s = String(v); this.#hash = s === "" || s === "#" ? "" : (s.startsWith("#") ? s : "#" + s); }
    get href() {
      const auth = this.#username || this.#password
        ? this.#username + (this.#password ? ":" + this.#password : "") + "@" : "";
      const authority = this.#hasAuthority ? "//" + auth + this.host : "";
      return this.#protocol + authority + this.#pathname + this.#search + this.#hash;
    }
    toString() { return this.href; }
    toJSON() { return this.href; }
  }
  global.URL = URL;
  global.URLSearchParams = URLSearchParams;

  // ---- Headers and fetch -------------------------------------------------------------------------------------------
  class Headers {
    #map = new Map();
    constructor(init) {
      if (init instanceof Headers) init.forEach((v, k) => this.append(k, v));
      else if (Array.isArray(init)) for (const [k, v] of init) this.append(k, v);
      else if (init && typeof init === "object") for (const k of Object.keys(init)) this.append(k, init[k]);
    }
    append(k, v) {
      const key = String(k).toLowerCase();
      const old = this.#map.get(key);
      this.#map.set(key, old === undefined ? String(v) : `${old}, ${v}`);
    }
    set(k, v) { this.#map.set(String(k).toLowerCase(), String(v)); }
    get(k) { return this.#map.get(String(k).toLowerCase()) ?? null; }
    has(k) { return this.#map.has(String(k).toLowerCase()); }
    delete(k) { this.#map.delete(String(k).toLowerCase()); }
    forEach(fn, thisArg) { for (const [k, v] of this.entries()) fn.call(thisArg, v, k, this); }
    entries() { return [...this.#map.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))[Symbol.iterator](); }
    keys() { return [...this.entries()].map(([k]) => k)[Symbol.iterator](); }
    values() { return [...this.entries()].map(([, v]) => v)[Symbol.iterator](); }
    [Symbol.iterator]() { return this.entries(); }
  }
  global.Headers = Headers;

  const FETCH_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"];
  const encodeBody = (body, headers) => {
    if (body === undefined || body === null) return {};
    if (typeof body === "string") {
      if (!headers.has("content-type")) headers.set("content-type", "text/plain;charset=UTF-8");
      return { body };
    }
    if (body instanceof URLSearchParams) {
      if (!headers.has("content-type")) headers.set("content-type", "application/x-www-form-urlencoded;charset=UTF-8");
      return { body: body.toString() };
    }
    if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return { body_b64: bytesToBase64(toBytes(body)) };
    return { body: String(body) };
  };
  class Response {
    #bytes;
    #used = false;
    constructor(reply) {
      this.status = reply.status;
      this.statusText = reply.statusText;
      this.ok = reply.status >= 200 && reply.status < 300;
      this.url = reply.url;
      this.redirected = reply.redirected;
      this.headers = new Headers(reply.headers);
      this.#bytes = base64ToBytes(reply.body_b64);
    }
    get bodyUsed() { return this.#used; }
    #consume() {
      if (this.#used) throw new TypeError("Body already consumed: a response body can be read once.");
      this.#used = true;
      return this.#bytes;
    }
    async arrayBuffer() { return this.#consume().slice().buffer; }
    async bytes() { return this.#consume().slice(); }
    async text() { return utf8Decode(this.#consume(), false, false); }
    async json() { return JSON.parse(await this.text()); }
  }
  global.fetch = async (input, init = {}) => {
    const url = String(input && typeof input === "object" && "url" in input ? input.url : input);
    const method = String((init && init.method) || "GET").toUpperCase();
    if (!FETCH_METHODS.includes(method)) {
      throw new TypeError(`Unsupported HTTP method '${method}': use one of ${FETCH_METHODS.join(", ")}`);
    }
    const headers = new Headers(init && init.headers);
    const body = encodeBody(init && init.body, headers);
    const reply = await ask("fetch", { url, method, headers: [...headers], ...body });
    return new Response(reply);
  };

  // ---- files, environment, processes -------------------------------------------------------------------------------
  const readBytes = async (path) => base64ToBytes((await ask("readFile", { path: String(path) })).body_b64);
  const readText = async (path) => utf8Decode(await readBytes(path), false, false);
  const denyWrite = async (path) => { throw denied("write", String(path)); };
  const env = Object.freeze({
    get(name) {
      const key = String(name);
      if (!Object.hasOwn(setup.env, key)) throw denied("env", key);
      return setup.env[key] ?? undefined;
    },
    has(name) {
      const key = String(name);
      if (!Object.hasOwn(setup.env, key)) throw denied("env", key);
      return setup.env[key] !== null;
    },
    toObject() {
      return Object.fromEntries(Object.entries(setup.env).filter(([, v]) => v !== null));
    },
    set(name) { throw denied("env", String(name)); },
    delete(name) { throw denied("env", String(name)); },
  });
  class Command {
    constructor(command) { throw denied("run", String(command)); }
  }
  global.Deno = Object.freeze({
    env,
    args: Object.freeze([]),
    readTextFile: readText,
    readFile: readBytes,
    writeTextFile: denyWrite,
    writeFile: denyWrite,
    remove: denyWrite,
    mkdir: denyWrite,
    run: (options) => { throw denied("run", String(options && options.cmd ? options.cmd[0] : options)); },
    Command,
  });

  // ---- the step API ------------------------------------------------------------------------------------------------
  // Outputs are capped as they are set (JSON characters, the last value of each key counted), so an oversized
  // one fails where it is set instead of exhausting memory when the result is put together.
  const outputs = {};
  const outputSizes = new Map();
  let outputChars = 0;
  let wroteOutput = false;
  const setOutput = (key, value) => {
    const name = String(key);
    const json = JSON.stringify(value);
    const size = JSON.stringify(name).length + 1 + (json === undefined ? 4 : json.length) + 1;
    const total = outputChars - (outputSizes.get(name) ?? 0) + size;
    if (total > setup.maxOutputChars) {
      throw new RangeError(`outputs too large: ${mib(total)} MiB of JSON, the limit is ` +
        `${mib(setup.maxOutputChars)} MiB`);
    }
    outputs[name] = json === undefined ? null : JSON.parse(json);
    outputSizes.set(name, size);
    outputChars = total;
    wroteOutput = true;
  };
  const getData = () => JSON.parse(setup.dataJson);
  const stepLog = (...args) => emit("log", args);
  global.inputs = getData;
  global.output = setOutput;
  global.log = stepLog;
  global.readFile = readText;
  global.Wfe = Object.freeze({ getData, setOutput, log: stepLog, readFile: readText, env, fetch: global.fetch });

  // ---- modules -----------------------------------------------------------------------------------------------------
  // `import` and `export` reach here as `require` calls (rewritten before evaluation); only modules the step's
  // config lists, and only with dynamic_import allowed, were loaded by the parent and can be returned.
  const moduleCache = new Map();
  const requireModule = (specifier) => {
    const spec = String(specifier);
    if (!setup.dynamicImport || !Object.hasOwn(setup.modules, spec)) throw denied("import", spec);
    if (moduleCache.has(spec)) return moduleCache.get(spec).exports;
    const module = { exports: {} };
    moduleCache.set(spec, module);
    const factory = (0, eval)(`(function (exports, require, module) {${setup.modules[spec]}\n})\n//# sourceURL=${spec}`);
    factory.call(module.exports, module.exports, requireModule, module);
    return module.exports;
  };

  // ---- running ---------------------------------------------------------------------------------------------------
  const lineOf = (err) => {
    const text = err && typeof err.stack === "string" ? err.stack : "";
    const escaped = scriptName.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const m = new RegExp(escaped + ":(\\d+):(\\d+)").exec(text);
    return m ? { line: Number(m[1]), column: Number(m[2]) } : { line: null, column: null };
  };
  const describe = (err) => {
    if (err instanceof Error) {
      return { name: err.name, message: String(err.message), stack: String(err.stack || ""), ...lineOf(err) };
    }
    return { name: "Error", message: `Uncaught ${show(err)}`, stack: "", line: null, column: null };
  };
  let finished = false;
  const finish = (result) => {
    if (finished) return;
    finished = true;
    reportDropped();
    flushLogs();
    for (const rawId of pendingTimers.values()) rawClearTimeout(rawId);
    pendingTimers.clear();
    let json;
    try {
      json = JSON.stringify(result);
    } catch (e) {
      json = JSON.stringify({ ok: false, error: describe(e) });
    }
    call("done", json);
  };
  failRun = (err) => finish({ ok: false, error: describe(err) });
  const waitForTimers = () => (pendingTimers.size === 0 ? undefined : new Promise((resolve) => {
    timersIdle = resolve;
  }));
  // A script's own `export`s lead nowhere; like imports, they need dynamic_import (module syntax).
  const scriptExports = setup.dynamicImport ? {} : new Proxy({}, {
    defineProperty() { throw denied("import", "export"); },
    set() { throw denied("import", "export"); },
  });
  global.__wfe_start = (main) => {
    delete global.__wfe_start;
    Promise.resolve()
      .then(() => main.call(undefined, scriptExports, requireModule))
      .then(waitForTimers)
      .then(() => finish({ ok: true, outputs: wroteOutput ? outputs : null }), failRun);
  };
})
