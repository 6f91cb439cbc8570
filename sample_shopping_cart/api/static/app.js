// The shop's page: plain JS over the HTTP API. The cart panel shows the cart now (the write model);
// the time-travel panel shows it as of the slider's moment (GET /api/carts/{id}?as_of=...).
"use strict";

const $ = (id) => document.getElementById(id);
const state = { cartId: null, cart: null, events: [], asOfSeq: 0 };

async function api(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    // A fresh command id per click; a retry of this request would resend the same one.
    init.body = JSON.stringify({ command_id: crypto.randomUUID(), ...body });
  }
  const response = await fetch(path, init);
  const data = await response.json();
  if (!response.ok) {
    const detail = Array.isArray(data.detail) ? data.detail.map((d) => `${d.loc.join(".")}: ${d.msg}`).join("; ") : data.detail;
    throw new Error(`${data.error || response.status}: ${detail}`);
  }
  return data;
}

// -- time: event timestamps have microseconds; the slider works in microseconds since the epoch ----------

function micros(iso) {
  const m = iso.match(/^(.*T\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?(Z|[+-]\d\d:\d\d)$/);
  const seconds = Date.parse(m[1] + m[3]) / 1000;
  return seconds * 1e6 + Number((m[2] || "").padEnd(6, "0"));
}

function isoFromMicros(us) {
  const seconds = Math.floor(us / 1e6);
  const fraction = String(us - seconds * 1e6).padStart(6, "0");
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, `.${fraction}Z`);
}

const esc = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const money = (amount) => Number(amount).toFixed(2);
const showTime = (iso) => iso.replace("T", " ").replace(/(\.\d{3})\d*/, "$1").replace(/(Z|\+00:00)$/, " UTC");

function showError(err) {
  $("error").textContent = err ? err.message : "";
  $("error").hidden = !err;
}

// Every user action goes through here: the previous action's error is cleared as this one starts, and a
// failure is shown, never swallowed. The action's own inputs are kept on failure, so it can be corrected.
async function act(action) {
  showError(null);
  try {
    await action();
  } catch (err) {
    showError(err);
  }
}

const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

function renderTotals(prefix, cart) {
  $(`${prefix}-subtotal`).textContent = money(cart.subtotal);
  $(`${prefix}-discount-code`).textContent = cart.discount_code ? `${cart.discount_code} (${cart.discount_percent} %)` : "";
  $(`${prefix}-discount`).textContent = cart.discount_code ? `−${money(cart.discount)}` : "none";
  $(`${prefix}-total`).textContent = money(cart.total);
}

// -- rendering -------------------------------------------------------------------------------------------

function renderLines(tbody, cart, editable) {
  tbody.replaceChildren();
  for (const line of cart.lines) {
    const tr = document.createElement("tr");
    tr.dataset.sku = line.sku;
    tr.innerHTML = `<td>${esc(line.name)}</td><td class="qty num"></td><td class="num">${money(line.unit_price)}</td>` +
      `<td class="num">${money(line.total)}</td>`;
    if (editable && cart.status === "open") {
      const qty = document.createElement("input");
      Object.assign(qty, { type: "number", min: 1, max: 99, value: line.quantity, className: "line-qty" });
      qty.setAttribute("aria-label", `quantity of ${line.name}`);
      qty.addEventListener("change", () => command("PUT", `items/${encodeURIComponent(line.sku)}`, { quantity: Number(qty.value) }));
      tr.querySelector(".qty").append(qty);
      const remove = document.createElement("button");
      Object.assign(remove, { textContent: "×", className: "remove", title: `Remove ${line.name}` });
      remove.setAttribute("aria-label", `remove ${line.name}`);
      remove.addEventListener("click", () => command("DELETE", `items/${encodeURIComponent(line.sku)}`, {}));
      const td = document.createElement("td");
      td.className = "act";
      td.append(remove);
      tr.append(td);
    } else {
      tr.querySelector(".qty").textContent = line.quantity;
      if (editable) tr.append(Object.assign(document.createElement("td"), { className: "act" }));
    }
    tbody.append(tr);
  }
}

function renderCart(cart) {
  state.cart = cart;
  $("cart-panel").hidden = false;
  $("welcome").hidden = true;
  $("cart-id").textContent = cart.cart_id;
  $("cart-customer").textContent = cart.customer_id;
  $("cart-status").textContent = cart.status.replace("_", " ");
  $("cart-status").className = `status ${cart.status}`;
  $("cart-version").textContent = cart.version;
  renderLines($("lines"), cart, true);
  renderTotals("cart", cart);
  const closed = cart.status !== "open";
  for (const id of ["add-item", "apply-discount", "checkout", "abandon", "product", "quantity", "discount-code"]) {
    $(id).disabled = closed;
  }
}

function renderTimeline() {
  const list = $("timeline");
  list.replaceChildren();
  for (const event of state.events) {
    const li = document.createElement("li");
    li.dataset.version = event.version;
    const data = Object.entries(event.data).filter(([k]) => k !== "lines").map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`).join(", ");
    li.innerHTML = `<time>${showTime(event.timestamp)}</time><b>${esc(event.event_type)}</b> <span>${esc(data)}</span>`;
    li.addEventListener("click", () => act(() => travelTo(micros(event.timestamp))));
    list.append(li);
  }
  const slider = $("slider");
  const first = micros(state.events[0].timestamp);
  const last = micros(state.events[state.events.length - 1].timestamp);
  slider.min = first;
  slider.max = Math.max(last, first + 1);
  $("history-panel").hidden = false;
}

async function showAsOf(us) {
  const seq = ++state.asOfSeq;
  const iso = isoFromMicros(us);
  const cart = await api("GET", `/api/carts/${encodeURIComponent(state.cartId)}?as_of=${encodeURIComponent(iso)}`);
  if (seq !== state.asOfSeq) return; // a later move of the slider has already asked again
  $("asof-time").textContent = showTime(iso);
  $("asof-version").textContent = cart.version;
  $("asof-status").textContent = cart.status.replace("_", " ");
  $("asof-status").className = `status ${cart.status}`;
  renderLines($("asof-lines"), cart, false);
  renderTotals("asof", cart);  // the discount line too, so that "total then" adds up
  const latest = cart.version === state.events.length;
  $("history-panel").classList.toggle("past", !latest);
  for (const li of $("timeline").children) {
    const version = Number(li.dataset.version);
    li.classList.toggle("applied", version <= cart.version);
    li.classList.toggle("latest", version === cart.version);
  }
  $("history-panel").dataset.version = cart.version;
}

async function travelTo(us) {
  $("slider").value = us;
  await showAsOf(us);
}

// -- loading and commands --------------------------------------------------------------------------------

async function loadCart(cartId) {
  state.cartId = cartId;
  history.replaceState(null, "", `/?cart=${encodeURIComponent(cartId)}`);
  const [cart, events] = await Promise.all([
    api("GET", `/api/carts/${encodeURIComponent(cartId)}`),
    api("GET", `/api/carts/${encodeURIComponent(cartId)}/events`),
  ]);
  state.events = events;
  renderCart(cart);
  renderTimeline();
  await Promise.all([travelTo(micros(events[events.length - 1].timestamp)), loadCarts()]);
}

function command(method, path, body, reset = () => {}) {
  return act(async () => {
    // Based on the version shown: if the cart changed meanwhile (another tab), the API answers 409.
    await api(method, `/api/carts/${encodeURIComponent(state.cartId)}/${path}`, { ...body, expected_version: state.cart.version });
    reset();
    await loadCart(state.cartId);
  });
}

async function loadCarts() {
  const carts = await api("GET", "/api/views/cart-summaries?limit=20");
  $("carts").replaceChildren(...carts.map((c) => {
    const li = document.createElement("li");
    li.dataset.cartId = c.cart_id;
    li.className = c.cart_id === state.cartId ? "current" : "";
    li.innerHTML = `<span class="who">${esc(c.customer_id)}</span><span class="amount">${money(c.total_cents / 100)}</span>` +
      `<small>${c.status.replace("_", " ")} · ${plural(c.item_count, "item")}</small>`;
    li.addEventListener("click", () => act(() => loadCart(c.cart_id)));
    return li;
  }));
}

async function loadProducts() {
  const products = await api("GET", "/api/products");
  $("product").replaceChildren(...products.filter((p) => p.active).map((p) => {
    const option = document.createElement("option");
    option.value = p.sku;
    option.textContent = `${p.name} — ${money(p.price_cents / 100)}`;
    return option;
  }));
}

function wire() {
  // After a success each form is ready for the next entry; after a failure it keeps what was typed.
  $("open-form").addEventListener("submit", (e) => {
    e.preventDefault();
    act(async () => {
      const cart = await api("POST", "/api/carts", { customer_id: $("customer").value });
      $("open-form").reset();
      await loadCart(cart.cart_id);
    });
  });
  $("add-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const body = { sku: $("product").value, quantity: Number($("quantity").value) };
    command("POST", "items", body, () => $("add-form").reset());
  });
  $("discount-form").addEventListener("submit", (e) => {
    e.preventDefault();
    command("POST", "discount", { code: $("discount-code").value }, () => $("discount-form").reset());
  });
  $("checkout").addEventListener("click", () => command("POST", "checkout", {}));
  $("abandon").addEventListener("click", () => command("POST", "abandon", {}));
  $("slider").addEventListener("input", () => act(() => showAsOf(Number($("slider").value))));
}

async function start() {
  wire();
  await Promise.all([loadProducts(), loadCarts()]);
  const cartId = new URLSearchParams(location.search).get("cart");
  if (cartId) await loadCart(cartId);
  document.body.dataset.ready = "true";
}

start().catch(showError);
