// B2B page: my schedule (in my own time zone), requests, the company directory, my profile,
// the meeting room's clock, and for organizers the grid, manual scheduling, export and report.
// The join token arrives in the fragment (#token=...), is kept in sessionStorage and removed
// from the address bar. Every text from the server is inserted with textContent.
import { $, el, banner } from "./dom.js";
import {
  currentLanguage, followRegistration, languageName, listOf, mountLanguagePicker, onLanguageChange, startI18n, t,
} from "../i18n.js";
import { connectLive, frequency, hearing, inMeeting, joinMeeting, leaveMeeting } from "./b2b_room.js";
import { errorText } from "./b2b_errors.js";

const TOKEN_KEY = "simultan.b2b.token";
const WARNING_MS = 60_000;

const state = {
  token: takeToken(), me: null, names: {}, skew: 0, admin: null, room: null, shown: null,
  zone: Intl.DateTimeFormat().resolvedOptions().timeZone,
  /** @type {any} */ live: null, /** @type {any} */ you: null,
  /** Meetings the server closed (`b2b_room` closed): their card is gone at once. */
  closed: new Set(), moving: false,
  /** The next meeting this tab joins by itself when its room opens (after being in one). */
  /** @type {string | null} */ autoJoin: null,
  /** The organizer's chosen meeting, and the one whose cancel awaits a second press. */
  /** @type {string | null} */ omSelected: null, /** @type {string | null} */ cancelArmed: null,
  /** The meeting whose controls the organizer has changed (kept over a refresh). */
  /** @type {string | null} */ omEdited: null,
};
/** The room's media: joins over the live connection (b2b_room.js). */
export const roomHooks = {
  /** @type {null | ((m: any, opts: any) => Promise<any>)} */
  join: (m, { media, hearing }) => joinMeeting(m, {
    live: state.live, you: state.you, box: media, hearing, nameOf, choice: $("room-hear"),
  }),
  /** @type {null | ((id: string) => void)} */
  leave: () => { leaveMeeting(); },
};

function takeToken() {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromHash) {
    sessionStorage.setItem(TOKEN_KEY, fromHash);
    history.replaceState(null, "", location.pathname + location.search);
    return fromHash;
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

export function token() { return state.token; }

/**
 * @param {string} path
 * @param {{method?: string, body?: any, raw?: Blob, type?: string}} [options]
 */
async function api(path, { method = "GET", body = undefined, raw = undefined, type = "" } = {}) {
  const headers = { Accept: "application/json", Authorization: `Bearer ${state.token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (raw !== undefined) headers["Content-Type"] = type;
  const response = await fetch(path, {
    method, headers, body: raw !== undefined ? raw : body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) {
    let data = {};
    try { data = await response.json(); } catch { /* not JSON */ }
    const err = /** @type {any} */ (new Error(data.message || `${response.status} ${response.statusText}`));
    err.reason = data.reason || data.error || "";
    throw err;
  }
  return response;
}
const json = async (path, options) => (await api(path, options)).json();

function say(text, kind = "info") {
  banner(text, kind);
  $("status").textContent = text;
}

async function act(fn, done) {
  try {
    await fn();
    await refresh();
    if (done) say(done);
  } catch (err) {
    say(errorText(err), "error");
  }
}

// --- times -------------------------------------------------------------------------------------

const now = () => new Date(Date.now() + state.skew);

function fmt(iso, zone, withDay = true) {
  /** @type {Intl.DateTimeFormatOptions} */
  const opts = { hour: "2-digit", minute: "2-digit", timeZone: zone };
  if (withDay) Object.assign(opts, { weekday: "short", day: "numeric", month: "short" });
  // the page's language, in the browser's regional form when it is the same (en-GB, es-MX)
  const browser = navigator.language || "";
  const locale = browser.split("-")[0] === currentLanguage() ? browser : currentLanguage();
  return new Intl.DateTimeFormat(locale, opts).format(new Date(iso));
}

function span(start, end) {
  const mine = `${fmt(start, state.zone)}–${fmt(end, state.zone, false)}`;
  const eventZone = state.me.event_timezone;
  if (eventZone === state.zone) return mine;
  return `${mine} (${fmt(start, eventZone, false)} ${eventZone})`;
}

function clock(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const two = (n) => String(n).padStart(2, "0");
  return h ? `${h}:${two(m)}:${two(r)}` : `${two(m)}:${two(r)}`;
}

const nameOf = (id) => state.names[id] || t("b2b.a_participant");
const others = (ids) => listOf(ids.filter((id) => id !== state.me.person.id).map(nameOf));

function slotOptions(select, slots, selected) {
  select.replaceChildren(...slots.filter((s) => !s.past).map((s) => {
    const o = el("option", { value: s.start }, span(s.start, s.end));
    o.selected = s.start === selected;
    return o;
  }));
}

// --- rendering ---------------------------------------------------------------------------------

function renderSchedule() {
  const rows = state.me.meetings.map((m) => el("tr", { "data-meeting": m.id },
    el("td", { "data-label": t("b2b.col_when") }, span(m.start, m.end)),
    el("td", { "data-label": t("b2b.col_table") }, String(m.table)),
    el("td", { "data-label": t("b2b.col_with") }, others(m.participants)),
    el("td", { "data-label": t("b2b.col_interpretation") },
      m.languages.length ? `${m.languages.join("–")} (${nameOf(m.interpreter)})` : "—"),
    el("td", {}, m.phase === "closed" ? "" : button(t("b2b.cancel"), () => act(
      () => api(`/api/b2b/meetings/${m.id}/cancel`, { method: "POST" }), t("b2b.cancelled_meeting"))))));
  $("schedule").replaceChildren(...rows);
  $("no-meetings").hidden = rows.length > 0;
  $("zone-note").textContent = state.zone === state.me.event_timezone
    ? t("b2b.times_in", { zone: state.zone })
    : t("b2b.times_own", { zone: state.zone, event: state.me.event_timezone });
}

function button(label, onClick, primary = false) {
  const b = el("button", { type: "button", className: primary ? "primary" : "" }, label);
  b.addEventListener("click", onClick);
  return b;
}

function renderRequests() {
  const me = state.me.person.id;
  const items = state.me.requests.slice().reverse().map((r) => {
    const incoming = r.awaiting === me && r.status === "pending";
    const other = nameOf(r.requester === me ? r.invitee : r.requester);
    const head = t(r.requester === me ? "b2b.you_asked" : "b2b.asks_you", { name: other });
    const li = el("li", { "data-request": r.id, "data-status": r.status },
      el("strong", {}, head), " · ", span(r.start, shiftEnd(r.start)), " · ",
      el("span", { className: `req-${r.status}` }, r.status === "pending"
        ? t(incoming ? "b2b.waiting_you" : "b2b.waiting_them") : t(`b2b.status_${r.status}`)));
    if (r.message) li.append(el("p", {}, r.message));
    if (r.status === "pending") {
      li.append(el("p", { className: "muted" }, t("b2b.expires", { time: fmt(r.expires_at, state.zone) })));
      const actions = el("div", { className: "actions" });
      if (incoming) {
        actions.append(
          button(t("b2b.accept"), () => act(() => api(`/api/b2b/requests/${r.id}/accept`, { method: "POST" }),
            t("b2b.accepted")), true),
          button(t("b2b.decline"), () => act(() => api(`/api/b2b/requests/${r.id}/decline`, { method: "POST" }),
            t("b2b.declined"))));
        const pick = el("select", { ariaLabel: t("b2b.another_slot") });
        slotOptions(pick, state.me.grid.slots, null);
        actions.append(pick, button(t("b2b.propose"), () => act(() => api(
          `/api/b2b/requests/${r.id}/propose`, { method: "POST", body: { start: pick.value } }),
          t("b2b.proposed"))));
      }
      if (r.requester === me) {
        actions.append(button(t("b2b.withdraw"), () => act(
          () => api(`/api/b2b/requests/${r.id}/withdraw`, { method: "POST" }), t("b2b.withdrawn"))));
      }
      li.append(actions);
    }
    return li;
  });
  $("requests").replaceChildren(...items);
  $("no-requests").hidden = items.length > 0;
}

function shiftEnd(start) {
  const slot = state.me.grid.slots.find((s) => s.start === start);
  return slot ? slot.end : start;
}

async function logoImg(url, alt) {
  const img = el("img", { alt });
  if (!url) { img.hidden = true; return img; }
  try {
    // A data: URL (the pages' CSP allows images from 'self' and data: only).
    const blob = await (await api(url)).blob();
    img.src = await new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(String(reader.result));
      reader.onerror = () => reject(reader.error);
      reader.readAsDataURL(blob);
    });
  } catch { img.hidden = true; }
  return img;
}

async function renderDirectory() {
  const params = new URLSearchParams({
    q: $("q").value, sector: $("sector").value, country: $("country").value, language: $("language").value,
  });
  const data = await json(`/api/b2b/profiles?${params}`);
  for (const [id, values] of [["sector", data.sectors], ["country", data.countries]]) {
    const keep = $(id).value;
    $(id).replaceChildren(el("option", { value: "" }, t("b2b.all")),
      ...values.map((v) => el("option", { value: v, selected: v === keep }, v)));
  }
  const items = data.profiles.map((p) => {
    const pick = el("select", { ariaLabel: t("b2b.slot_with", { organization: p.organization }) });
    slotOptions(pick, state.me.grid.slots, null);
    const message = el("input", { maxLength: 1000, placeholder: t("b2b.a_message"), ariaLabel: t("b2b.message") });
    const form = el("div", { className: "request-form" }, pick, message,
      button(t("b2b.ask"), () => act(() => api("/api/b2b/requests", {
        method: "POST", body: { invitee: p.person_id, start: pick.value, message: message.value },
      }), t("b2b.request_sent", { organization: p.organization })), true));
    const initials = p.organization.split(/\s+/).map((w) => w[0] || "").join("").slice(0, 3);
    const logo = el("div", { className: "logo", ariaHidden: "true" }, initials);
    if (p.logo) logoImg(p.logo, t("b2b.logo_of", { organization: p.organization })).then((img) => { if (!img.hidden) logo.replaceChildren(img); });
    return el("li", { "data-person": p.person_id }, logo,
      el("div", {}, el("strong", {}, p.organization), ` · ${p.sector} · ${p.city}, ${p.country}`),
      el("div", {}, t("b2b.speaks", { name: p.name, languages: listOf(p.languages.map(languageName)) })),
      el("div", { className: "muted" }, p.offers ? t("b2b.offers", { text: p.offers }) : "", p.seeks ? t("b2b.seeks", { text: p.seeks }) : ""),
      form);
  });
  $("directory").replaceChildren(...items);
  if (!items.length) $("directory").append(el("li", { className: "muted" }, t("b2b.no_match")));
}

function renderProfile() {
  const p = state.me.profile;
  if (!p) return;
  for (const key of ["organization", "sector", "offers", "seeks", "country", "city"]) {
    $(`p-${key}`).value = p[key];
  }
  $("p-languages").value = p.languages.join(", ");
  logoImg(p.logo, "Your logo").then((img) => {
    $("logo-preview").src = img.src || "";
    $("logo-preview").hidden = img.hidden;
  });
}

// --- the meeting room's clock ----------------------------------------------------------------

function currentMeeting() {
  const at = now().getTime();
  return state.me.meetings.find((m) => new Date(m.closes).getTime() > at && !state.closed.has(m.id)) || null;
}

function tick() {
  if (!state.me) return;
  const m = currentMeeting();
  const card = $("room-card");
  if (state.shown && (!m || state.shown !== m.id)) {
    // The meeting closed: leave its room and move on to the next meeting or the schedule.
    if (state.room) leaveRoom(t("b2b.room_closed"));
    else moveOn(t("b2b.room_closed"));
  }
  state.shown = m ? m.id : null;
  card.hidden = !m;
  if (!m) return;
  const at = now().getTime();
  const start = new Date(m.start).getTime(), end = new Date(m.end).getTime();
  const closes = new Date(m.closes).getTime();
  $("room-who").textContent = t("b2b.room_who", { table: m.table, names: others(m.participants), time: span(m.start, m.end) });
  let phase;
  if (at < start) {
    phase = "upcoming";
    $("room-clock").textContent = t("b2b.starts_in", { time: clock(start - at) });
  } else if (at < end) {
    phase = at >= end - WARNING_MS ? "ending" : "open";
    $("room-clock").textContent = t("b2b.time_left", { time: clock(end - at) });
  } else {
    phase = "grace";
    $("room-clock").textContent = t("b2b.grace", { time: clock(closes - at) });
  }
  card.dataset.phase = phase;
  const warn = phase === "ending" || phase === "grace";
  if (warn !== !$("room-warning").hidden) {
    $("room-warning").hidden = !warn;
    $("room-warning").textContent = warn ? t("b2b.warning") : "";
  }
  const join = $("room-join");
  join.hidden = !!state.room;
  join.disabled = !(phase === "open" || phase === "ending") || !roomHooks.join || !state.you;
  if (state.autoJoin === m.id && !state.room && !join.disabled) {
    state.autoJoin = null; // the next meeting's room is open: in we go
    joinRoom();
  } else if (state.room && state.room.id === m.id && (m.interpreter || null) !== state.room.interpreter) {
    // The organizer booked (or removed) an interpreter meanwhile: join again to get the
    // channel and the choice of what to hear.
    state.room.interpreter = m.interpreter || null;
    $("room-media").replaceChildren();
    joinRoom(t(m.interpreter ? "b2b.interpreter_booked" : "b2b.interpreter_removed"));
  }
}

/** Into the current meeting's room; `news` is said once in (else "you are in"). */
async function joinRoom(news = "") {
  const m = currentMeeting();
  if (!m || !roomHooks.join) return;
  try {
    state.room = { id: m.id, interpreter: m.interpreter || null };
    $("room-leave").hidden = false;
    await roomHooks.join(m, { token: state.token, media: $("room-media"), hearing: $("room-hearing") });
    say(news || t("b2b.joined"));
  } catch (err) {
    state.room = null;
    $("room-leave").hidden = true;
    say(errorText(err), "error");
  }
  tick();
}

/** Out of the room: the meeting closed (then on to the next one), or the person left it. */
function leaveRoom(reason, closed = true) {
  if (!state.room) return;
  const id = state.room.id;
  state.room = null;
  $("room-leave").hidden = true;
  if (roomHooks.leave) roomHooks.leave(id);
  $("room-media").replaceChildren();
  $("room-hearing").textContent = "";
  $("room-hear").hidden = true;
  if (closed) moveOn(reason, true);
  else { state.autoJoin = null; say(reason); tick(); }
}

/** After a meeting: on to the next one (a tab that was in the closed meeting joins the next
 * one as soon as its room is open: at once, or when the server says it opened), else the
 * schedule (scrolled to and focused). */
function moveOn(reason, wasIn = false) {
  const next = currentMeeting();
  say(next ? `${reason} ${t("b2b.next_meeting", { when: span(next.start, next.end) })}`
    : `${reason} ${t("b2b.no_more")}`);
  if (!next) {
    state.autoJoin = null;
    $("schedule-heading").scrollIntoView();
    $("schedule-heading").focus({ preventScroll: true });
    return;
  }
  if (wasIn) state.autoJoin = next.id; // tick() joins it once its room is open
}

/** The server's clock (a meeting's room opened, its last minute, its end, its close) and
 * the schedule's changes. */
function onLiveEvent(/** @type {any} */ ev) {
  if (ev.name === "b2b_schedule") { // a request, an answer, a meeting changed: fetch again
    refresh().catch(() => {});
    return;
  }
  if (ev.name !== "b2b_room") return;
  const data = ev.data;
  if (data.phase === "closed") {
    state.closed.add(data.meeting);
    if (state.room && state.room.id === data.meeting) leaveRoom(t("b2b.room_closed"));
  } else if (data.phase === "open" && !state.room) {
    say(t("b2b.opens"));
  }
  refresh().catch(() => {});
}

// --- organizer -----------------------------------------------------------------------------------

async function renderOrganizer() {
  const data = await json("/api/b2b/admin");
  state.admin = data;
  $("organizer").hidden = false;
  $("g-minutes").value = data.grid.meeting_minutes;
  $("g-break").value = data.grid.break_minutes;
  $("g-tables").value = data.grid.tables;
  $("m-people").replaceChildren(...data.profiles.map((id) => el("option", { value: id }, nameOf(id))));
  slotOptions($("m-slot"), data.grid.slots, null);
  const head = el("tr", {}, el("th", {}, t("b2b.slot")),
    ...Array.from({ length: data.grid.tables }, (_, i) => el("th", {}, t("b2b.table_n", { n: i + 1 }))));
  const rows = data.grid.slots.map((s) => {
    const cells = Array.from({ length: data.grid.tables }, () => el("td", {}, ""));
    for (const m of data.meetings.filter((x) => x.start === s.start)) {
      const cell = cells[m.table - 1];
      if (!cell) continue;
      cell.className = "taken";
      cell.append(m.participants.map(nameOf).join(" + "), m.interpreter ? t("b2b.interpreted", { languages: m.languages.join("–") }) : "");
    }
    return el("tr", {}, el("th", {}, span(s.start, s.end)), ...cells);
  });
  $("grid").replaceChildren(el("thead", {}, head), el("tbody", {}, ...rows));
  renderMeetingControls(data);
}

// --- organizer: move, cancel, book an interpreter ---------------------------------------------

const CHANGEABLE = new Set(["upcoming", "open", "ending"]);

function selectedMeeting() {
  const id = $("om-meeting").value;
  return (state.admin?.meetings || []).find((m) => m.id === id) || null;
}

function meetingLabel(m) {
  return `${span(m.start, m.end)} · ${t("b2b.table_n", { n: m.table })} · ${m.participants.map(nameOf).join(" + ")}`;
}

const OM_FIELDS = ["om-slot", "om-table", "om-interp", "om-lang-a", "om-lang-b"];

function renderMeetingControls(data) {
  const meetings = data.meetings.slice().sort((a, b) => a.start.localeCompare(b.start) || a.table - b.table);
  const keep = state.omSelected;
  // A refresh (every 30 s, or a server event) keeps what the organizer has chosen so far.
  const edited = keep && state.omEdited === keep ? OM_FIELDS.map((id) => $(id).value) : null;
  $("om-meeting").replaceChildren(...(meetings.length ? meetings.map((m) => {
    const o = el("option", { value: m.id }, meetingLabel(m));
    o.selected = m.id === keep;
    return o;
  }) : [el("option", { value: "" }, t("b2b.om_none"))]));
  $("om-meeting").disabled = !meetings.length;
  slotOptions($("om-slot"), data.grid.slots, null);
  $("om-table").replaceChildren(el("option", { value: "" }, t("b2b.first_free")),
    ...Array.from({ length: data.grid.tables }, (_, i) => el("option", { value: String(i + 1) }, t("b2b.table_n", { n: i + 1 }))));
  $("om-interp").replaceChildren(el("option", { value: "" }, t("b2b.om_choose_interpreter")),
    ...data.interpreters.map((id) => el("option", { value: id }, nameOf(id))));
  for (const id of ["om-lang-a", "om-lang-b"]) {
    $(id).replaceChildren(el("option", { value: "" }, t("b2b.om_choose_language")),
      ...data.languages.map((code) => el("option", { value: code }, `${languageName(code)} (${code})`)));
  }
  showMeeting();
  if (edited && state.omSelected === keep) {
    OM_FIELDS.forEach((id, i) => { $(id).value = edited[i]; });
    state.omEdited = keep;
    updateMeetingButtons();
  }
}

/** Put the chosen meeting's slot, table and booking into the controls. */
function showMeeting() {
  const m = selectedMeeting();
  state.omSelected = m ? m.id : null;
  state.cancelArmed = null;
  state.omEdited = null;
  $("om-current").textContent = m ? t("b2b.om_current", {
    when: span(m.start, m.end), table: m.table, names: listOf(m.participants.map(nameOf)),
    interpretation: m.interpreter ? t("b2b.om_booked", { name: nameOf(m.interpreter), languages: m.languages.join("–") })
      : t("b2b.om_no_interpreter"),
  }) : t("b2b.om_none");
  if (m) {
    $("om-slot").value = m.start;
    $("om-table").value = String(m.table);
    $("om-interp").value = m.interpreter || "";
    $("om-lang-a").value = m.languages[0] || "";
    $("om-lang-b").value = m.languages[1] || "";
  }
  updateMeetingButtons();
}

/** Each button only where it makes sense for the chosen meeting and the controls' values. */
function updateMeetingButtons() {
  const m = selectedMeeting();
  const changeable = !!m && CHANGEABLE.has(m.phase);
  const slot = $("om-slot").value, table = $("om-table").value;
  const moved = !!m && !!slot && (slot !== m.start || (table !== "" && Number(table) !== m.table));
  $("om-move-button").disabled = !(m && m.phase === "upcoming" && moved);
  for (const id of ["om-slot", "om-table"]) $(id).disabled = !(m && m.phase === "upcoming");
  const who = $("om-interp").value, a = $("om-lang-a").value, b = $("om-lang-b").value;
  const same = !!m && who === (m.interpreter || "") && a === (m.languages[0] || "") && b === (m.languages[1] || "");
  $("om-book").disabled = !(changeable && who && a && b && a !== b && !same);
  for (const id of ["om-interp", "om-lang-a", "om-lang-b"]) $(id).disabled = !changeable;
  $("om-unbook").disabled = !(changeable && m.interpreter);
  $("om-cancel").disabled = !changeable;
  const armed = !!m && state.cancelArmed === m.id;
  $("om-cancel").textContent = t(armed ? "b2b.om_cancel_confirm" : "b2b.om_cancel");
  $("om-cancel-hint").hidden = !armed;
  $("om-cancel-hint").textContent = armed ? t("b2b.om_cancel_hint") : "";
  let hint = "";
  if (m && !changeable) hint = t("b2b.om_over");
  else if (m && m.phase !== "upcoming") hint = t("b2b.om_started");
  else if (m && who && a && a === b) hint = t("b2b.om_two_languages");
  $("om-hint").textContent = hint;
  $("om-hint").hidden = !hint;
}

/** Run an organizer's change, then tell the result in the section's live region, next to
 * the controls (not also in the page's banner: a screen reader would hear it twice). */
async function organizerAct(fn, done) {
  const tell = (text, kind) => {
    $("om-status").textContent = text;
    $("om-status").dataset.kind = kind;
    $("om-status").scrollIntoView({ block: "nearest" }); // on a phone it may sit below the fold
  };
  try {
    await fn();
    await refresh();
    tell(done, "info");
  } catch (err) {
    tell(errorText(err), "error");
    await refresh().catch(() => {});
  }
  const focused = /** @type {any} */ (document.activeElement);
  if (!focused || focused === document.body || focused.disabled) $("om-meeting").focus();
}

function wireMeetingControls() {
  $("om-meeting").addEventListener("change", () => { $("om-status").textContent = ""; showMeeting(); });
  for (const id of OM_FIELDS) {
    $(id).addEventListener("change", () => { state.omEdited = state.omSelected; updateMeetingButtons(); });
  }
  $("om-move").addEventListener("submit", (e) => {
    e.preventDefault();
    const m = selectedMeeting();
    if (!m || $("om-move-button").disabled) return;
    const table = $("om-table").value ? Number($("om-table").value) : null;
    organizerAct(() => api(`/api/b2b/admin/meetings/${m.id}/move`, { method: "POST", body: { start: $("om-slot").value, table } }),
      t("b2b.om_moved"));
  });
  $("om-interpreter").addEventListener("submit", (e) => {
    e.preventDefault();
    const m = selectedMeeting();
    if (!m || $("om-book").disabled) return;
    const body = { interpreter: $("om-interp").value, languages: [$("om-lang-a").value, $("om-lang-b").value] };
    organizerAct(() => api(`/api/b2b/admin/meetings/${m.id}/interpreter`, { method: "POST", body }),
      t("b2b.om_booked_done", { name: nameOf(body.interpreter), languages: body.languages.join("–") }));
  });
  $("om-unbook").addEventListener("click", () => {
    const m = selectedMeeting();
    if (!m) return;
    organizerAct(() => api(`/api/b2b/admin/meetings/${m.id}/interpreter`, { method: "POST", body: { interpreter: null } }),
      t("b2b.om_unbooked"));
  });
  $("om-cancel").addEventListener("click", () => {
    const m = selectedMeeting();
    if (!m) return;
    if (state.cancelArmed !== m.id) {
      // Cancelling mails everyone in the meeting: a second press confirms it.
      state.cancelArmed = m.id;
      updateMeetingButtons();
      $("om-status").textContent = t("b2b.om_cancel_hint");
      return;
    }
    state.cancelArmed = null;
    state.omSelected = null;
    organizerAct(() => api(`/api/b2b/admin/meetings/${m.id}/cancel`, { method: "POST" }), t("b2b.cancelled_meeting"));
  });
}

async function showReport() {
  const r = await json("/api/b2b/admin/report");
  const minutes = (s) => t("b2b.minutes", { n: Math.round(s / 60) });
  $("report").replaceChildren(
    el("p", {}, t("b2b.report", {
      requested: r.requested, accepted: r.requests.accepted, declined: r.requests.declined,
      expired: r.requests.expired, withdrawn: r.requests.withdrawn, pending: r.requests.pending,
      meetings: r.meetings, held: r.held, together: minutes(r.held_seconds), cancelled: r.cancelled,
    })),
    el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, t("b2b.col_when")), el("th", {}, t("b2b.col_table")),
      el("th", {}, t("b2b.col_who")), el("th", {}, t("b2b.col_held")), el("th", {}, t("b2b.col_together")))),
    el("tbody", {}, ...r.rows.map((row) => el("tr", {}, el("td", {}, span(row.start, row.end)),
      el("td", {}, String(row.table)), el("td", {}, listOf(row.participants.map(nameOf))),
      el("td", {}, t(row.cancelled ? "b2b.cancelled" : row.held ? "b2b.yes" : "b2b.no")),
      el("td", {}, minutes(row.together_seconds)))))));
}

async function exportCsv() {
  const blob = await (await api("/api/b2b/admin/export.csv")).blob();
  const a = el("a", { href: URL.createObjectURL(blob), download: "b2b-schedule.csv" });
  document.body.append(a);
  a.click();
  a.remove();
}

// --- wiring ------------------------------------------------------------------------------------

async function refresh() {
  const me = await json("/api/b2b/me");
  state.me = me;
  state.names = me.names;
  state.zone = me.person.timezone || state.zone;
  state.skew = new Date(me.now).getTime() - Date.now();
  $("who").textContent = me.person.name;
  renderSchedule();
  renderRequests();
  renderProfile();
  await renderDirectory();
  if (me.organizer) await renderOrganizer();
  tick();
}

function wire() {
  $("search").addEventListener("submit", (e) => { e.preventDefault(); renderDirectory().catch((err) => say(err.message, "error")); });
  $("profile").addEventListener("submit", (e) => {
    e.preventDefault();
    const f = new FormData($("profile"));
    const body = Object.fromEntries(["organization", "sector", "offers", "seeks", "country", "city"].map((k) => [k, f.get(k)]));
    body.languages = String(f.get("languages"));
    act(() => api("/api/b2b/profile", { method: "PUT", body }), t("b2b.profile_saved"));
  });
  $("logo").addEventListener("change", () => {
    const file = $("logo").files[0];
    if (file) act(() => api("/api/b2b/profile/logo", { method: "PUT", raw: file, type: file.type }), t("b2b.logo_saved"));
  });
  $("grid-form").addEventListener("submit", (e) => {
    e.preventDefault();
    act(() => api("/api/b2b/admin/grid", { method: "PUT", body: {
      meeting_minutes: Number($("g-minutes").value), break_minutes: Number($("g-break").value),
      tables: Number($("g-tables").value) } }), t("b2b.grid_changed"));
  });
  $("manual").addEventListener("submit", (e) => {
    e.preventDefault();
    const participants = [...$("m-people").selectedOptions].map((o) => o.value);
    const table = $("m-table").value ? Number($("m-table").value) : null;
    act(() => api("/api/b2b/admin/meetings", { method: "POST", body: { participants, start: $("m-slot").value, table } }),
      t("b2b.scheduled"));
  });
  $("export").addEventListener("click", () => exportCsv().catch((err) => say(err.message, "error")));
  $("report-button").addEventListener("click", () => showReport().catch((err) => say(err.message, "error")));
  wireMeetingControls();
  $("room-join").addEventListener("click", () => joinRoom());
  $("room-leave").addEventListener("click", () => leaveRoom(t("b2b.left"), false));
  setInterval(tick, 500);
  setInterval(() => refresh().catch(() => {}), 30_000);
}

// For tests and the console: the page's state and a way to reload it now.
/** @type {any} */ (window).simultanB2B = { state, refresh, frequency, hearing, inMeeting };

if (!state.token) {
  say(t("b2b.open_from_mail"), "error");
} else {
  wire();
  const { live, ready } = connectLive(state.token, onLiveEvent);
  state.live = live;
  const i18n = startI18n().catch(() => {});
  ready.then((welcome) => {
    state.you = welcome.you;
    tick();
    // the registration's language, unless the visitor chose one on the page
    return i18n.then(() => followRegistration(welcome.you.language));
  }).catch(() => {});
  i18n.then(() => {
    mountLanguagePicker($("page-language"));
    onLanguageChange(() => { refresh().catch((err) => say(err.message, "error")); });
    return refresh();
  }).catch((err) => say(err.message, "error"));
}
