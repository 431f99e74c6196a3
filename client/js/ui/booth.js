// The interpreter's console, laid out for interpreting: the floor video and who speaks in
// what language, what the booth hears (floor or relay, chosen by the server's routing), the
// floor and partner volumes, one big on-air state, the mic with handover to the partner (by
// name), cough while held, keyboard shortcuts (M mic, H handover, C cough, S slow down),
// warnings when both mics are open or the channel is silent, the mic time as mm:ss with the
// rotation reminder, the next agenda items, booth chat and the connection state.
import { $, $$, banner, el } from "./dom.js";
import { connectPage } from "./page.js";
import { mountRunOfShow } from "./runofshow.js";
import { boothRoom } from "./stage_rooms.js";
import {
  followRegistration, formatTime, languageName, listOf, mountLanguagePicker, nativeName, onLanguageChange,
  startI18n, t,
} from "../i18n.js";

await startI18n();
mountLanguagePicker($("page-language"));

const state = { snapshot: null, you: null, media: null, localStream: null, offset: 0, silentSince: null };
let problemShown = false; // the "cannot connect" banner is ours to clear
// The server's clock, not this computer's: cues and timers follow the event's time.
const serverNow = () => Date.now() + state.offset;
const setting = (name, fallback) => state.snapshot?.booth_settings?.[name] ?? fallback;
const SILENT_LEVEL = 0.003; // RMS below this counts as silence
const SILENT_SECONDS = 20;
const PARTNER_OPEN_LEVEL = 0.02; // the partner's mic carries speech while we are on air

function myBooth() {
  return state.snapshot?.booths?.[state.you?.booth];
}

// The partner by seat (A <-> B; a backup's partner is A, else B), never whoever sorts
// first: the server picks the same one for an offer without "to".
const PARTNER_SEATS = { A: ["B"], B: ["A"], backup: ["A", "B"] };
function partner() {
  const members = myBooth()?.members || [];
  const mine = members.find((m) => m.person === state.you.id);
  for (const seat of PARTNER_SEATS[mine?.seat] || []) {
    const found = members.find((m) => m.seat === seat);
    if (found) return found;
  }
  return null;
}

const partnerName = () => partner()?.name || t("booth.your_partner");

/** mm:ss (or h:mm:ss) of a duration in seconds. */
export function mmss(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const two = (n) => String(n).padStart(2, "0");
  const h = Math.floor(s / 3600);
  return h ? `${h}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}` : `${two(Math.floor(s / 60))}:${two(s % 60)}`;
}

// The booth's own cue (#cue) says what comes next: the run-of-show shows the countdown.
const runOfShow = mountRunOfShow($("run-of-show"), () => state.snapshot, { cue: false });

function sourceText(src) {
  if (!src || src.kind === "floor") return t("booth.hear_floor");
  const from = state.snapshot?.booths?.[src.booth];
  return t("booth.hear_relay", { booth: languageName(from?.language || src.booth) });
}

/** The manual choice of what this booth hears: automatic, the floor, or relay from a booth. */
function renderHearChoice() {
  const snap = state.snapshot;
  const mine = snap.booths?.[state.you.booth];
  const select = $("hear-choice");
  const others = Object.values(snap.booths || {}).filter((/** @type {any} */ b) => b.id !== state.you.booth);
  select.replaceChildren(
    el("option", { value: "auto" }, t("booth.hear_auto")),
    el("option", { value: "floor" }, t("booth.hear_floor_always")),
    ...others.map((/** @type {any} */ b) => el("option", { value: b.id },
      t("booth.hear_relay_from", { booth: languageName(b.language) }))),
  );
  const choice = mine?.hear_choice || "auto";
  select.value = choice;
  $("hear-how").textContent = choice === "auto" ? t("booth.automatic_note") : t("booth.chosen_note");
}

function pendingText(pending, me) {
  const name = partnerName();
  if (pending.kind === "offer") {
    return t(pending.from_person === me ? "booth.pending_offer_by_you" : "booth.pending_offer_to_you", { name });
  }
  // A handover always moves the mic from_person -> to_person: a request comes from to_person.
  return t(pending.to_person === me ? "booth.pending_request_by_you" : "booth.pending_request_to_you", { name });
}

/** The moves that make sense now (the server refuses the others anyway). */
function moves(booth, me) {
  const live = booth.live === me;
  const pending = booth.pending;
  const responder = pending && (pending.kind === "offer" ? pending.to_person : pending.from_person);
  const initiator = pending && (pending.kind === "offer" ? pending.from_person : pending.to_person);
  return {
    take: !booth.live,
    offer: live && !pending && !!partner(),
    request: !!booth.live && !live && !pending,
    accept: responder === me,
    decline: responder === me,
    cancel: !!pending && initiator === me,
    release: live,
  };
}

function renderMic(booth) {
  const me = state.you.id;
  const live = booth.live === me;
  $("booth-name").textContent = t("booth.name", { booth: booth.id, language: languageName(booth.language) });
  const floorLanguage = state.snapshot.event.floor_language;
  $("retour").hidden = !booth.retour;
  if (booth.retour) {
    $("retour").textContent = t("booth.retour", { language: languageName(floorLanguage), booth: languageName(booth.language) });
  }
  $("on-air").textContent = t(live ? (booth.coughing ? "booth.muted" : "booth.on_air") : "booth.off_air");
  $("on-air").className = `on-air big ${live ? (booth.coughing ? "muted" : "on") : "off"}`;
  document.body.classList.toggle("is-live", live);
  const group = boothRoom(state.snapshot.rooms, state.you.booth);
  const holder = booth.live === me ? t("booth.you_hold")
    : booth.live ? t("booth.partner_holds", { name: partnerName() })
      : group ? t("booth.nobody_holds_group", { room: group.title }) : t("booth.nobody_holds");
  $("booth-state").textContent = booth.pending ? `${holder} ${pendingText(booth.pending, me)}` : holder;
  const mate = partner();
  $("partner").textContent = mate
    ? t("booth.partner_state", {
      name: mate.name || t("booth.your_partner"),
      state: t(mate.live ? "booth.partner.live" : mate.connected ? "booth.partner.standby" : "booth.partner.away"),
    })
    : t("booth.no_partner");
  const show = moves(booth, me);
  for (const button of $$("[data-booth]")) button.hidden = !show[button.dataset.booth];
  $$("[data-booth=offer]")[0].textContent = t("booth.offer", { name: partnerName() });
  $$("[data-booth=request]")[0].textContent = t("booth.request", { name: partnerName() });
  $("cough").hidden = !live;
  // the partner is heard (lower) only on standby: on air, only what you interpret from
  if (state.media) state.media.mix.setPartnerVolume(live ? 0 : Number($("partner-volume").value));
  renderTimer(booth);
}

function renderTimer(booth = myBooth()) {
  if (!booth || !state.you) return;
  const live = booth.live === state.you.id;
  const seconds = live && booth.live_since ? (serverNow() - Date.parse(booth.live_since)) / 1000 : 0;
  const rotation = setting("rotation_minutes", 30);
  const due = live && seconds >= rotation * 60;
  const timer = $("mic-timer");
  timer.textContent = live ? t("booth.timer", { time: mmss(seconds) }) : "";
  if (due) timer.textContent += ` · ${t("booth.rotate", { minutes: rotation })}`;
  timer.classList.toggle("late", due);
}

function renderFloor() {
  const snap = state.snapshot;
  const f = snap.floor || {};
  // every live speaker by name, city and language, the one on screen first
  const live = [...(f.live || [])].sort((a, b) => Number(b.person_id === f.shown) - Number(a.person_id === f.shown));
  const key = live.length === 1 ? "booth.speaking" : "floor.speaker";
  // A booth assigned to a group serves that group only (rooms in the snapshot and events),
  // and hears its members instead of the floor: who speaks there is the group, not the floor.
  const room = boothRoom(snap.rooms, state.you.booth);
  const names = snap.rooms?.names || {};
  $("speaking").textContent = room
    ? t("booth.group_speaking", {
      room: room.title, names: listOf(room.members.map((id) => names[id] || id.slice(0, 8))),
    })
    : live.length
      ? listOf(live.map((s) => {
        const p = f.people?.[s.person_id] || { name: "?", city: "" };
        return t(key, { name: p.name, city: p.city || "", language: languageName(s.language) });
      }))
      : t("booth.nobody_speaking");
  $("hearing").textContent = room
    ? t("booth.hear_group", { room: room.title })
    : sourceText(snap.routing?.booth_hears?.[state.you.booth]);
  state.media?.followRoom(room ? room.members.length + (room.visitors || []).length : 0);
  renderHearChoice();
  // in a group there is no floor to choose from or to watch (its last frame would freeze)
  $("hear-choice").parentElement.hidden = !!room;
  if (room) $("hear-how").textContent = "";
  $("floor-video").hidden = !!room;
  $("serves").textContent = room
    ? t("booth.serves_room", { room: room.title, count: room.members.length })
    : t("booth.serves_plenary");
  $("serves").classList.toggle("in-group", !!room);
  // a floor language change waiting out its debounce: what this booth will hear then
  const coming = $("floor-coming");
  const hears = f.pending_language ? f.pending_hears?.[state.you.booth] : null;
  coming.hidden = !hears;
  if (hears) {
    const seconds = Math.max(0, Math.round((Date.parse(f.pending_at) - serverNow()) / 1000));
    const language = languageName(f.pending_language);
    coming.textContent = myBooth()?.language === f.pending_language
      ? t("booth.coming_pivot", { seconds, language })
      : t("booth.coming_source", { seconds, language, source: sourceText(hears) });
  }
}

function speakersText(item) {
  return listOf((item.speakers || []).map((s) => `${s.name} (${nativeName(s.language)})`));
}

function renderNowNext() {
  const tl = state.snapshot.timeline;
  const zone = state.snapshot.event.timezone;
  const current = tl.items.find((i) => i.id === tl.current);
  const upcoming = tl.items.filter((i) => i.status === "scheduled");
  const next = upcoming[0];
  const box = $("now-next");
  box.replaceChildren();
  const rows = [];
  if (current) rows.push([t("booth.now"), current]);
  upcoming.slice(0, 3).forEach((item, n) => rows.push([n === 0 ? t("booth.next") : "", item]));
  for (const [label, item] of rows) {
    const speakers = speakersText(item);
    box.append(el("p", { class: "next-item" }, label ? el("strong", {}, `${label}: `) : "",
      `${formatTime(item.expected_start || item.planned_start, zone)} ${item.title}`,
      speakers ? el("span", { class: "muted" }, ` · ${speakers}`) : ""));
  }
  const cue = $("cue");
  if (next && next.expected_start) {
    const minutes = (Date.parse(next.expected_start) - serverNow()) / 60000;
    cue.hidden = !(minutes >= 0 && minutes <= setting("cue_minutes", 5));
    const langs = listOf([...new Set((next.speakers || []).map((s) => nativeName(s.language)))]);
    cue.textContent = t("booth.cue", { minutes: Math.max(0, Math.round(minutes)), title: next.title })
      + (langs ? t("booth.cue_languages", { languages: langs }) : "");
  } else {
    cue.hidden = true;
  }
}

function render() {
  const snap = state.snapshot;
  if (!snap) return;
  const booth = myBooth();
  if (booth) renderMic(booth);
  renderFloor();
  renderNowNext();
}

/** Once a second: the timer, the media state and the warnings from the level meters. */
function tick() {
  renderTimer();
  if (state.snapshot?.floor?.pending_language) renderFloor(); // "in N s" counts down
  const media = state.media;
  const booth = myBooth();
  const live = !!booth && booth.live === state.you?.id;
  const warnings = [];
  if (media) {
    $("media-state").textContent = t("booth.connection", { state: media.session.pc.connectionState });
    const level = media.micMeter.level();
    $("mic-level").parentElement.setAttribute("aria-valuenow", String(Math.round(Math.min(100, level * 300))));
    if (live && !booth.coughing && level < SILENT_LEVEL) {
      state.silentSince ??= Date.now();
      const seconds = Math.round((Date.now() - state.silentSince) / 1000);
      if (seconds >= SILENT_SECONDS) warnings.push(t("booth.silent", { seconds }));
    } else {
      state.silentSince = null;
    }
    if (live && media.partnerMeter.level() > PARTNER_OPEN_LEVEL) warnings.push(t("booth.both_open"));
  }
  const box = $("warning");
  const text = warnings.join(" ");
  if (box.textContent !== text) box.textContent = text;
  box.hidden = !text;
}

async function boothAction(action, extra = {}) {
  try {
    // the booth version this console showed: a stale accept comes back as a conflict
    const base = action === "cough" ? {} : { base_version: myBooth()?.version };
    await live.request({ type: "booth", booth: state.you.booth, action, ...base, ...extra });
    banner("");
  } catch (err) {
    banner(err.message);
  }
}

function act(action) {
  if (action === "offer") return boothAction("offer"); // the server offers it by seat
  return boothAction(action);
}

for (const button of $$("[data-booth]")) {
  button.addEventListener("click", () => act(button.dataset.booth));
}

let coughing = false;
function cough(on) {
  if (coughing === on) return;
  coughing = on;
  if (state.localStream) for (const track of state.localStream.getAudioTracks()) track.enabled = !on;
  boothAction("cough", { on });
}
$("cough").addEventListener("pointerdown", () => cough(true));
$("cough").addEventListener("pointerup", () => cough(false));
$("cough").addEventListener("pointerleave", () => cough(false));
$("cough").addEventListener("pointercancel", () => cough(false));
// losing focus (another window, a hidden tab) never leaves the mic muted
window.addEventListener("blur", () => cough(false));
document.addEventListener("visibilitychange", () => { if (document.hidden) cough(false); });
const slowDown = () => live.request({ type: "slow_down" }).catch((e) => banner(e.message));
$("slow-down").addEventListener("click", slowDown);

// Keyboard first: single keys, never while typing in a field.
function typing(target) {
  return target instanceof HTMLElement && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
}
document.addEventListener("keydown", (ev) => {
  if (ev.ctrlKey || ev.metaKey || ev.altKey || typing(ev.target)) return;
  const booth = myBooth();
  if (!booth || !state.you) return;
  const show = moves(booth, state.you.id);
  const key = ev.key.toLowerCase();
  if (key === "m") {
    if (show.take) act("take");
    else if (show.release) act("release");
  } else if (key === "h") {
    if (show.accept) act("accept");
    else if (show.offer) act("offer");
    else if (show.request) act("request");
    else if (show.cancel) act("cancel");
  } else if (key === "c") {
    if (!ev.repeat && booth.live === state.you.id) cough(true);
  } else if (key === "s") {
    slowDown();
  } else {
    return;
  }
  ev.preventDefault();
});
document.addEventListener("keyup", (ev) => { if (ev.key.toLowerCase() === "c") cough(false); });

$("chat-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const text = $("chat-text").value.trim();
  if (!text) return;
  live.request({ type: "booth_chat", booth: state.you.booth, text }).then(() => { $("chat-text").value = ""; }, (e) => banner(e.message));
});

$("start-audio").addEventListener("click", async () => {
  try {
    const { startBoothMedia } = await import("./booth_media.js");
    state.media = await startBoothMedia(live, state, {
      partnerVolume: $("partner-volume"), floorVolume: $("floor-volume"), meterBar: $("mic-level"),
      video: $("floor-video"),
      onProblem: (text) => {
        if (text || problemShown) banner(text ? t("media.cannot_connect") : "");
        problemShown = !!text;
      },
    });
    render(); // a group this booth serves already: its members' slots
    $("start-audio").disabled = true;
    $("start-audio").textContent = t("booth.audio_connected");
  } catch (err) {
    banner(t("booth.audio_error", { message: err.message }));
  }
});

$("hear-choice").addEventListener("change", (/** @type {Event} */ ev) => {
  const select = /** @type {HTMLSelectElement} */ (ev.target);
  live.request({ type: "booth_source", booth: state.you.booth, source: select.value })
    .then(() => banner(""), (err) => { banner(err.message); render(); });
});

function addChat(data) {
  const at = data.at ? `${formatTime(data.at, Intl.DateTimeFormat().resolvedOptions().timeZone)} ` : "";
  $("chat").append(el("li", {}, at, el("strong", {}, `${data.by.name}: `), data.text));
}

export const live = connectPage({
  async onWelcome(msg) {
    state.snapshot = msg.snapshot;
    state.you = msg.you;
    state.offset = Date.parse(msg.snapshot.server_time) - Date.now();
    $("who").textContent = `${msg.you.name}`;
    await followRegistration(msg.you.language);
    runOfShow.welcome(msg.snapshot);
    // the booth chat's last 200 messages come with every welcome (reload, reconnect)
    $("chat").replaceChildren();
    for (const m of msg.snapshot.booth_chat?.[msg.you.booth] || []) addChat(m);
    render();
  },
  onEvent(msg) {
    const snap = state.snapshot;
    runOfShow.follow(msg);
    if (msg.data?.run_of_show) state.offset = Date.parse(msg.data.run_of_show.at) - Date.now();
    if (msg.name === "timeline") {
      snap.timeline = msg.data.timeline;
      state.offset = Date.parse(msg.data.timeline.as_of) - Date.now();
    } else if (msg.name === "floor") { snap.floor = msg.data.floor; snap.routing = msg.data.routing; }
    else if (msg.name === "booth") {
      snap.booths[msg.data.booth.id] = msg.data.booth;
      if (msg.data.routing) snap.routing = msg.data.routing;
    } else if (msg.name === "rooms") {
      snap.rooms = msg.data.rooms;
    } else if (msg.name === "booth_chat") {
      addChat(msg.data);
    }
    render();
    document.dispatchEvent(new CustomEvent("simultan:event", { detail: msg }));
  },
});
onLanguageChange(render);
window.simultan = { live, state };
setInterval(tick, 1000);
setInterval(render, 15000);
