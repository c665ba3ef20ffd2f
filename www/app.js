// fibcache demo page: sends the article's request, measures it in the browser,
// and draws one bar per call. Plain JS, no build step, no network beyond this host.
"use strict";

const API = "/api/fibonacci/number/";
// Bars use a log scale from 0.1 ms to 100 s: a 400 ms cold call and a 1 ms warm
// one must both be visible, side by side.
const SCALE_MIN_MS = 0.1;
const SCALE_MAX_MS = 100000;
const SHORT_VALUE_DIGITS = 40;

const form = document.getElementById("ask");
const nInput = document.getElementById("n");
const sendButton = document.getElementById("send");
const evictButton = document.getElementById("evict");
const clearButton = document.getElementById("clear");
const message = document.getElementById("message");
const calls = document.getElementById("calls");
const empty = document.getElementById("empty");
let callCount = 0;

function selectedAlgorithm() {
  return form.querySelector('input[name="algorithm"]:checked').value;
}

function say(text, kind) {
  message.textContent = text;
  message.className = kind || "";
}

/** n as typed, or null after telling the user what is wrong (the API checks the limits). */
function readN() {
  const text = nInput.value.trim();
  if (!/^\d+$/.test(text)) {
    say("n must be a whole number, 0 or more, written with the digits 0-9.", "error");
    nInput.focus();
    return null;
  }
  return text.replace(/^0+(?=\d)/, "");
}

/** `cache;dur=0.460;desc="MISS", compute;dur=0.073;desc="fast"` -> {cache: {dur, desc}, ...} */
function parseServerTiming(header) {
  const metrics = {};
  if (!header) return metrics;
  for (const part of header.split(",")) {
    const [name, ...params] = part.trim().split(";");
    const metric = {};
    for (const param of params) {
      const match = /^\s*(\w+)=(?:"([^"]*)"|([^;]*))/.exec(param);
      if (match) metric[match[1]] = match[2] !== undefined ? match[2] : match[3];
    }
    metrics[name.trim()] = { dur: parseFloat(metric.dur) || 0, desc: metric.desc || "" };
  }
  return metrics;
}

/** A readable sentence for a failed API call: its JSON error if it has one. */
function describeFailure(response, text) {
  let detail = "";
  try {
    const body = JSON.parse(text);
    if (body && typeof body.error === "string") detail = body.error;
  } catch (_) {
    // not JSON: nginx's own error page, say
  }
  const status = `${response.status} ${response.statusText}`.trim();
  if (detail) return `The server refused: ${detail} (${status}).`;
  if (response.status >= 500) return `The server failed (${status}). Is fibcache running? Try again in a moment.`;
  return `The server answered ${status}.`;
}

function formatMs(ms) {
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(2)} ms`;
}

function barWidthPercent(ms) {
  const span = Math.log10(SCALE_MAX_MS) - Math.log10(SCALE_MIN_MS);
  const position = (Math.log10(Math.max(ms, SCALE_MIN_MS)) - Math.log10(SCALE_MIN_MS)) / span;
  return Math.min(100, Math.max(2, position * 100));
}

function valueElement(digits) {
  const wrapper = document.createElement("div");
  wrapper.className = "value";
  if (digits.length <= SHORT_VALUE_DIGITS) {
    const code = document.createElement("code");
    code.textContent = digits;
    wrapper.append(code);
    return wrapper;
  }
  const details = document.createElement("details");
  const summary = document.createElement("summary");
  summary.textContent = `${digits.slice(0, 20)}…${digits.slice(-20)} (${digits.length.toLocaleString("en")} digits)`;
  const full = document.createElement("pre");
  full.className = "digits";
  details.append(summary, full);
  // Filled on first opening: F(1,000,000) has 208,988 digits.
  details.addEventListener("toggle", () => {
    if (details.open && !full.textContent) full.textContent = digits;
  });
  wrapper.append(details);
  return wrapper;
}

function addCall(call) {
  callCount += 1;
  empty.hidden = true;
  const cache = call.timing.cache ? call.timing.cache.dur : 0;
  const compute = call.timing.compute ? call.timing.compute.dur : 0;
  const rest = Math.max(0, call.totalMs - cache - compute);

  const item = document.createElement("li");
  item.className = `call ${call.xCache.toLowerCase()}`;
  item.dataset.cache = call.xCache;
  item.dataset.totalMs = call.totalMs.toFixed(3);
  item.dataset.cacheMs = cache.toFixed(3);
  item.dataset.computeMs = compute.toFixed(3);

  const heading = document.createElement("p");
  heading.className = "summary";
  const badge = document.createElement("span");
  badge.className = "badge";
  badge.textContent = call.xCache;
  heading.append(`#${callCount} F(${call.n}) ${call.algorithm} `, badge,
    ` ${formatMs(call.totalMs)} total — cache ${formatMs(cache)}, compute ${formatMs(compute)}` +
    (call.timing.cache && call.timing.cache.desc.includes("local") ? " (copy held in fibcache)" : ""));

  const bar = document.createElement("div");
  bar.className = "bar";
  bar.setAttribute("aria-hidden", "true");
  bar.style.width = `${barWidthPercent(call.totalMs)}%`;
  for (const [kind, ms] of [["cache", cache], ["compute", compute], ["rest", rest]]) {
    const segment = document.createElement("span");
    segment.className = kind;
    segment.style.flexGrow = String(ms);
    bar.append(segment);
  }

  item.append(heading, bar, valueElement(call.digits));
  calls.append(item);  // in order, so call #1 (cold) sits right above call #2 (warm)
  item.scrollIntoView({ block: "nearest" });
}

async function send(event) {
  event.preventDefault();
  const n = readN();
  if (n === null) return;
  const algorithm = selectedAlgorithm();
  sendButton.disabled = true;
  form.setAttribute("aria-busy", "true");
  say(`Asking for F(${n}) with the ${algorithm} algorithm…`);
  try {
    const start = performance.now();
    // The canonical URL (fast is the default, named by no parameter): any other is a redirect.
    const query = algorithm === "fast" ? "" : `?algorithm=${encodeURIComponent(algorithm)}`;
    const response = await fetch(`${API}${n}/${query}`, { cache: "no-store" });
    const text = await response.text();
    const totalMs = performance.now() - start;
    if (!response.ok) {
      say(describeFailure(response, text), "error");
      return;
    }
    // Read the digits as text: JSON.parse would turn them into a rounded float.
    const match = /^\{"fibonacci": (\d+)\}$/.exec(text);
    if (!match) {
      say("The server answered 200 but not with {\"fibonacci\": <digits>}.", "error");
      return;
    }
    const call = {
      n, algorithm, totalMs, digits: match[1],
      xCache: response.headers.get("X-Cache") || "?",
      timing: parseServerTiming(response.headers.get("Server-Timing")),
    };
    addCall(call);
    say(`F(${n}): ${call.xCache}, ${formatMs(totalMs)}.` +
      (call.xCache === "MISS" ? " Send it again to see the cached answer." : ""), "ok");
  } catch (error) {
    say(`Network error: the server could not be reached (${error.message}).`, "error");
  } finally {
    sendButton.disabled = false;
    form.removeAttribute("aria-busy");
  }
}

async function evict() {
  const n = readN();
  if (n === null) return;
  evictButton.disabled = true;
  try {
    const response = await fetch(`${API}${n}/`, { method: "DELETE", cache: "no-store" });
    const text = await response.text();
    if (!response.ok) {
      say(describeFailure(response, text), "error");
      return;
    }
    const body = JSON.parse(text);
    say(body.evicted ? `Evicted F(${n}) from the cache: the next call is cold again.`
      : `F(${n}) was not cached: the next call is cold anyway.`, "ok");
  } catch (error) {
    say(`Network error: the server could not be reached (${error.message}).`, "error");
  } finally {
    evictButton.disabled = false;
  }
}

form.addEventListener("submit", send);
evictButton.addEventListener("click", evict);
clearButton.addEventListener("click", () => {
  calls.replaceChildren();
  callCount = 0;
  empty.hidden = false;
  say("Results cleared.");
});
