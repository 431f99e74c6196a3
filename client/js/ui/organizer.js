// Organizer page: registrations with approve / revoke / role / resend controls.
// The join token arrives in the fragment (#token=...); it is kept in sessionStorage and
// removed from the address bar. Every text from the server is inserted with textContent.

import {
  UI_LANGUAGES, initialLanguage, mountLanguagePicker, nativeName, onLanguageChange, setLanguage, t,
} from "../i18n.js";

const TOKEN_KEY = "simultan.organizer.token";
const ROLES = ["participant", "panelist", "interpreter", "moderator", "organizer"];

const state = { event: null, registrations: [], token: takeToken() };

/** @param {string} id @returns {any} the element (input, select, table) the markup has there */
const $ = (id) => document.getElementById(id);

function takeToken() {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromHash) {
    sessionStorage.setItem(TOKEN_KEY, fromHash);
    history.replaceState(null, "", location.pathname + location.search);
    return fromHash;
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

// el("td", {className: "x"}, "text", child): children are strings (as text) or nodes.
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("aria-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

function showBanner(text, kind = "info") {
  const banner = $("banner");
  banner.textContent = text;
  banner.className = `banner ${kind}`;
  banner.hidden = !text;
}

function showLink(name, link) {
  $("link-name").textContent = name;
  $("last-link").value = link;
  $("link-box").hidden = false;
}

async function api(path, options = {}) {
  const headers = { Accept: "application/json", Authorization: `Bearer ${state.token}` };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method: options.method || "GET",
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  let data = {};
  try {
    data = await response.json();
  } catch {
    data = {};
  }
  if (!response.ok) {
    const fields = data.fields ? Object.entries(data.fields).map(([k, v]) => `${k} ${v}`) : [];
    const detail = fields.length ? ` (${fields.join("; ")})` : "";
    throw new Error(`${data.message || t("organizer.request_failed", { status: response.status })}${detail}`);
  }
  return data;
}

async function load() {
  if (!state.token) {
    showBanner(t("organizer.no_token"), "error");
    return;
  }
  try {
    const data = await api("/api/admin/registrations");
    state.event = data.event;
    state.registrations = data.registrations;
    render();
  } catch (error) {
    showBanner(error.message, "error");
  }
}

function replaceRegistration(updated) {
  const index = state.registrations.findIndex((r) => r.id === updated.id);
  if (index >= 0) state.registrations[index] = updated;
  render();
}

async function act(registration, action, body) {
  try {
    const data = await api(`/api/admin/registrations/${encodeURIComponent(registration.id)}/${action}`, {
      method: "POST",
      body,
    });
    replaceRegistration(data.registration);
    const who = data.registration.name;
    if (data.link) showLink(who, data.link);
    else if (action === "revoke") $("link-box").hidden = true; // any link shown is dead now
    if (action === "revoke") showBanner(t("organizer.revoked", { name: who }));
    else if (data.link && data.mailed) showBanner(t("organizer.mailed", { name: who }));
    else if (data.link) showBanner(t("organizer.not_mailed", { name: who }), "error");
    else showBanner(t("organizer.updated", { name: who }));
  } catch (error) {
    showBanner(error.message, "error");
  }
}

function matches(registration, text, status) {
  if (status && registration.status !== status) return false;
  if (!text) return true;
  const haystack = [registration.name, registration.email, registration.city, registration.country, registration.organization]
    .join(" ")
    .toLowerCase();
  return haystack.includes(text);
}

function roleControls(registration) {
  const role = el("select", { "aria-label": t("organizer.role_of", { name: registration.name }) });
  for (const name of ROLES) {
    role.append(el("option", { value: name, selected: name === registration.role }, t(`role.${name}`)));
  }
  const booth = el("select", { "aria-label": t("organizer.booth_of", { name: registration.name }) });
  for (const b of state.event.booths) {
    const label = b.id === b.language ? b.id : `${b.id} (${b.language})`;
    booth.append(el("option", { value: b.id, selected: b.id === registration.booth }, label));
  }
  const syncBooth = () => { booth.hidden = role.value !== "interpreter"; };
  role.addEventListener("change", syncBooth);
  syncBooth();
  const set = el("button", { type: "button" }, t("organizer.set_role"));
  set.addEventListener("click", () => {
    const body = { role: role.value, booth: role.value === "interpreter" ? booth.value : null };
    act(registration, "role", body);
  });
  return el("div", { className: "role-controls" }, role, booth, set);
}

function linkControls(registration) {
  const box = el("div", { className: "actions" });
  const button = (label, action, confirmText) => {
    const b = el("button", { type: "button" }, label);
    b.addEventListener("click", () => {
      if (confirmText && !window.confirm(confirmText)) return;
      act(registration, action);
    });
    box.append(b);
  };
  if (registration.status === "approved") {
    button(t("organizer.resend"), "resend");
    button(t("organizer.revoke"), "revoke", t("organizer.confirm_revoke", { name: registration.name }));
  } else {
    button(t("organizer.approve"), "approve");
  }
  return box;
}

/** An address that may wrap before its "@" and dots, never inside a word. */
function emailParts(address) {
  const parts = [];
  for (const piece of address.split(/(?=[@.])/)) parts.push(piece, el("wbr"));
  return parts;
}

function row(registration) {
  const role = registration.booth
    ? t("role.interpreter_booth", { booth: registration.booth }) : t(`role.${registration.role}`);
  return el(
    "tr",
    { dataset: { id: registration.id } },
    el("td", { className: "name" }, registration.name),
    el("td", {}, [registration.city, registration.country].filter(Boolean).join(", ")),
    el("td", {}, registration.organization),
    el("td", { className: "email" }, ...emailParts(registration.email)),
    el("td", {}, t(`role.${registration.requested_role}`)),
    el("td", {}, `${nativeName(registration.language)}, ${registration.timezone.replace(/_/g, " ")}`),
    el("td", { className: `reg-${registration.status}` }, t(`organizer.reg.${registration.status}`)),
    el("td", {}, el("div", { className: "muted" }, role), roleControls(registration)),
    el("td", {}, linkControls(registration)),
  );
}

function render() {
  const text = $("filter").value.trim().toLowerCase();
  const status = $("status-filter").value;
  const shown = state.registrations.filter((r) => matches(r, text, status));
  $("registrations").tBodies[0].replaceChildren(...shown.map(row));
  const counts = { pending: 0, approved: 0, revoked: 0 };
  for (const r of state.registrations) counts[r.status] = (counts[r.status] || 0) + 1;
  $("counts").textContent = t("organizer.counts", {
    total: state.registrations.length, approved: counts.approved, pending: counts.pending,
    revoked: counts.revoked, shown: shown.length,
  });
}

$("filter").addEventListener("input", () => state.event && render());
$("status-filter").addEventListener("change", () => state.event && render());
$("reload").addEventListener("click", load);
$("copy-link").addEventListener("click", async () => {
  try {
    await navigator.clipboard.writeText($("last-link").value);
    showBanner(t("organizer.copied"));
  } catch {
    $("last-link").select();
  }
});

await setLanguage(initialLanguage(UI_LANGUAGES));
mountLanguagePicker($("page-language"), UI_LANGUAGES);
onLanguageChange(() => state.event && render());
load();
