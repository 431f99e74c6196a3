// The moderator's control page, a run-of-show: the current item with its countdown, the next
// items and the floor always on top (alarms above them), then one section at a time in tabs
// (timeline, floor, booths, groups, notices). Timeline commands carry the version this page
// shows, so a second moderator acting on an old view gets a conflict error shown here.
import { announceChanges, driftText, renderAgenda } from "./agenda.js";
import { $, $$, banner, el } from "./dom.js";
import { connectPage } from "./page.js";
import { mountControlFloor } from "./control_floor.js";
import { mountRoomsControl } from "./control_rooms.js";
import { mountTabs } from "./tabs.js";
import { countdown } from "./countdown.js";
import {
  followRegistration, formatTime, languageName, listOf, mountLanguagePicker, nativeName, onLanguageChange,
  startI18n, t, UI_LANGUAGES,
} from "../i18n.js";

await startI18n(UI_LANGUAGES);
mountLanguagePicker($("page-language"), UI_LANGUAGES);

const state = {
  snapshot: /** @type {any} */ (null), you: /** @type {any} */ (null),
  selected: /** @type {string|null} */ (null), speakers: new Map(), tech: /** @type {any} */ (null),
  skew: 0, // server clock minus ours
};
const ownZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
const tabs = mountTabs($("tabs") || document.querySelector("[role=tablist]"), { storeKey: "simultan-control-tab" });

/** Which timeline buttons can work now (the server checks again; this keeps the page honest). */
export function timelineMoves(tl, selected) {
  const current = tl.items.find((i) => i.id === tl.current && (i.status === "live" || i.status === "paused"));
  const scheduled = tl.items.filter((i) => i.status === "scheduled");
  const sel = selected?.status;
  return {
    start: selected ? sel === "scheduled" : scheduled.length > 0 && !current,
    next: scheduled.length > 0 || !!current,
    pause: !!current && !tl.paused,
    resume: !!tl.paused,
    extend: !!current,
    skip: sel === "scheduled",
    jump: sel === "scheduled" || sel === "skipped",
    up: sel === "scheduled" && scheduled[0]?.id !== selected.id,
    finish: !!current,
  };
}

/** A person as the moderator knows them: name and city. */
function personText(p) {
  return p ? t("control.person", { name: p.name, city: p.city || "" }) : t("common.nobody");
}

function renderNow() {
  const snap = state.snapshot;
  if (!snap) return;
  const tl = snap.timeline;
  const current = tl.items.find((i) => i.id === tl.current);
  $("current").textContent = current ? current.title : t("control.nothing_live");
  const left = countdown(tl, snap.run_of_show, Date.now() + state.skew);
  const box = $("countdown");
  box.dataset.phase = left.phase;
  box.textContent = left.phase === "none" ? ""
    : t(left.phase === "overrun" ? "control.overrun" : tl.paused ? "control.paused_left" : "control.left",
      { time: left.text });
  $("drift-now").textContent = driftText(tl.drift_seconds);
  const zone = state.you?.timezone || ownZone;
  const upcoming = tl.items.filter((i) => i.status === "scheduled").slice(0, 3);
  // the next-up cue (the run-of-show's, N minutes ahead): that item says how soon
  const cue = snap.run_of_show?.next?.cue ? snap.run_of_show.next : null;
  const minutes = cue ? Math.max(0, Math.ceil((Date.parse(cue.starts_at) - Date.now() - state.skew) / 60000)) : 0;
  $("next-items").replaceChildren(...(upcoming.length ? upcoming.map((i) => el("li", { class: cue?.id === i.id ? "cue" : "" },
    el("span", { class: "time" }, formatTime(i.expected_start || i.planned_start, zone)), " ",
    cue?.id === i.id ? t(minutes ? "agenda.next_up" : "agenda.next_up_now", { minutes, title: i.title }) : i.title,
    i.speakers?.length ? el("span", { class: "muted" }, ` · ${listOf(i.speakers.map((s) => s.name))}`) : ""))
    : [el("li", { class: "muted" }, t("control.nothing_next"))]));
  // who speaks now, each in their language
  const speaking = liveSpeakers(snap.floor).map((s) => `${s.text} · ${languageName(s.language)}`);
  $("floor-now").textContent = speaking.length ? listOf(speaking) : t("common.nobody");
}

/** Everyone live on the floor (a panel has several, the one on screen among them). */
function liveSpeakers(floor) {
  return (floor.live || []).map((/** @type {any} */ s) => ({
    id: s.person_id, language: s.language,
    text: personText(floor.people?.[s.person_id] || { name: s.person_id }),
  }));
}

function render() {
  const snap = state.snapshot;
  if (!snap) return;
  const tl = snap.timeline;
  $("version").textContent = t("control.version", { n: tl.version });
  const selected = tl.items.find((i) => i.id === state.selected);
  $("selected").textContent = selected ? selected.title : "–";
  renderAgenda($("agenda"), tl, {
    eventZone: snap.event.timezone,
    ownZone: state.you?.timezone || ownZone,
    selected: state.selected,
    onSelect(item) { state.selected = item.id; render(); },
  });
  for (const row of $$("tr[data-item]", $("agenda"))) {
    if (row.dataset.item === state.selected) row.classList.add("selected");
  }
  const possible = timelineMoves(tl, selected);
  for (const button of $$("#timeline-controls button[data-action]")) {
    button.disabled = !possible[button.dataset.action];
  }
  const floor = snap.floor;
  const live = liveSpeakers(floor);
  const liveIds = new Set(live.map((s) => s.id));
  $("speakers").replaceChildren(...[...state.speakers.values()].map((p) => speakerItem(p, liveIds.has(p.id))));
  $("floor-holder").textContent = live.length ? listOf(live.map((s) => s.text)) : t("common.nobody");
  const sel = $("floor-language");
  sel.replaceChildren(...snap.event.languages.map((/** @type {string} */ lang) =>
    el("option", { value: lang, lang }, nativeName(lang))));
  sel.value = floor.language;
  renderNow();
}

/** A present speaker: "give the floor", or that they speak now (nothing to give). */
function speakerItem(p, speaking) {
  if (speaking) {
    return el("li", { "data-live": "" }, `${personText(p)} `, el("span", { class: "on-air on" }, t("control.speaking_now")));
  }
  const give = el("button", { "data-person": p.id }, t("control.give_floor"));
  give.addEventListener("click", () => live.request({ type: "floor", action: "give", person_id: p.id }).then(() => banner(""), (e) => banner(e.message)));
  return el("li", {}, `${personText(p)} `, give);
}

/** The tech view's booths by interpreter name (a seat letter only when no name is known). */
function memberName(booth, person) {
  const m = booth.members.find((x) => x.person === person);
  return m ? (m.name || t("control.seat", { seat: m.seat })) : (person || "");
}

/** An alarm in the page's language, naming the interpreter. */
export function alarmText(alarm, booths) {
  const booth = booths.find((b) => b.id === alarm.booth);
  const vars = {
    language: languageName(booth?.language || alarm.booth),
    name: booth && alarm.person ? memberName(booth, alarm.person)
      : (state.snapshot?.floor?.people?.[alarm.person]?.name || ""), // a speaker on the floor
    seconds: alarm.seconds ?? "",
  };
  const key = `alarm.${alarm.kind}`;
  const text = t(key, vars);
  return text === key ? alarm.message : text;
}

function renderTech(view) {
  state.tech = view;
  $("tech").hidden = false;
  $("no-tech").hidden = true;
  $("alarms").replaceChildren(...view.alarms.map((a) =>
    el("li", { class: `alarm ${a.severity}`, "data-kind": a.kind }, alarmText(a, view.booths))));
  const critical = view.alarms.length;
  $("tab-alarms").textContent = critical ? `(${critical})` : "";
  $("tech-booths").replaceChildren(...view.booths.map((b) => {
    const onMic = b.members.find((m) => m.live);
    const members = listOf(b.members.map((m) => memberName(b, m.person) + (m.connected ? "" : ` (${t("control.away")})`)));
    const level = onMic ? b.levels_dbfs?.[onMic.person] : null;
    return el("tr", { "data-booth": b.id },
      el("th", { scope: "row" }, languageName(b.language)),
      el("td", { "data-testid": "on-mic" }, onMic ? memberName(b, onMic.person) : t("control.floor_heard")),
      el("td", {}, members),
      el("td", {}, level == null ? "–" : t("control.dbfs", { level })),
      el("td", {}, b.live_minutes == null ? "–" : t("control.minutes", { minutes: b.live_minutes })));
  }));
}

$("floor-language").addEventListener("change", (ev) => {
  live.request({ type: "floor_language", language: ev.target.value }).then(() => banner(""), (e) => banner(e.message));
});
$("take-floor").addEventListener("click", () => live.request({ type: "floor", action: "end" }).catch((e) => banner(e.message)));
$("record").addEventListener("change", (ev) => {
  live.request({ type: "record", on: ev.target.checked }).catch((e) => { banner(e.message); ev.target.checked = !ev.target.checked; });
});

function command(action, extra = {}) {
  const tl = state.snapshot.timeline;
  const msg = { type: "timeline", action, base_version: tl.version, ...extra };
  return live.request(msg).then(
    () => banner(""),
    (err) => banner(err.code === "conflict" ? t("control.conflict", { message: err.message }) : err.message),
  );
}

function reorderUp() {
  const tl = state.snapshot.timeline;
  const scheduled = tl.items.filter((i) => i.status === "scheduled").map((i) => i.id);
  const idx = scheduled.indexOf(state.selected);
  if (idx <= 0) return banner(t("control.select_later"));
  [scheduled[idx - 1], scheduled[idx]] = [scheduled[idx], scheduled[idx - 1]];
  return command("reorder", { order: scheduled });
}

for (const button of $$("#timeline-controls button")) {
  button.addEventListener("click", () => {
    const action = button.dataset.action;
    if (action === "up") return reorderUp();
    if (action === "extend") return command("extend", { minutes: Number(button.dataset.minutes) });
    if (action === "skip" || action === "jump") {
      if (!state.selected) return banner(t("control.select_first"));
      return command(action, { item_id: state.selected });
    }
    if (action === "start") return command("start", state.selected ? { item_id: state.selected } : {});
    return command(action);
  });
}

$("notice-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const text = $("notice-text").value.trim();
  if (text) live.request({ type: "notice", text }).then(() => { $("notice-text").value = ""; }, (e) => banner(e.message));
});

function roleName(role) {
  return t(`role.${role}`);
}

export const live = connectPage({
  async onWelcome(msg) {
    await followRegistration(msg.you.language, UI_LANGUAGES);
    state.snapshot = msg.snapshot;
    state.you = msg.you;
    if (msg.snapshot.server_time) state.skew = Date.parse(msg.snapshot.server_time) - Date.now();
    state.speakers = new Map((msg.snapshot.speakers || []).map((p) => [p.id, p]));
    $("record").checked = !!msg.snapshot.recording;
    $("who").textContent = `${msg.you.name} · ${roleName(msg.you.role)}`;
    render();
    document.dispatchEvent(new CustomEvent("simultan:welcome", { detail: msg }));
  },
  onEvent(msg) {
    // a timeline change and the server's clock both carry the run-of-show (the clock's own
    // event also the timeline it moved), with the server's time
    if (msg.data?.run_of_show) {
      state.snapshot.run_of_show = msg.data.run_of_show;
      state.skew = Date.parse(msg.data.run_of_show.at) - Date.now();
    }
    if (msg.name === "timeline") {
      announceChanges($("agenda-announce"), state.snapshot.timeline, msg.data.timeline);
      state.snapshot.timeline = msg.data.timeline;
    } else if (msg.name === "run_of_show") state.snapshot.timeline = msg.data.timeline;
    else if (msg.name === "floor") state.snapshot.floor = msg.data.floor;
    else if (msg.name === "slow_down") {
      const box = $("slow-down");
      box.hidden = false;
      box.textContent = t("control.slow_down", {
        booth: languageName(msg.data.booth), time: formatTime(new Date().toISOString(), state.you?.timezone || ownZone),
      });
    } else if (msg.name === "presence") {
      if (msg.data.present) state.speakers.set(msg.data.person.id, msg.data.person);
      else state.speakers.delete(msg.data.person.id);
    } else if (msg.name === "recording_state") {
      $("record").checked = msg.data.on;
    }
    render();
    document.dispatchEvent(new CustomEvent("simultan:event", { detail: msg }));
  },
  onTech(view) { renderTech(view); },
});
onLanguageChange(() => {
  render();
  if (state.tech) renderTech(state.tech);
  if (state.you) $("who").textContent = `${state.you.name} · ${roleName(state.you.role)}`;
});
setInterval(renderNow, 1000);
window.simultan = { live, state, command, tabs };
mountControlFloor({ live, state });
window.simultan.rooms = mountRoomsControl({ live });
