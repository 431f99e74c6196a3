// The moderator's control page: timeline commands based on the version this page shows,
// so a second moderator acting on an old view gets a conflict error shown here.
import { renderAgenda } from "./agenda.js";
import { $, $$, banner, el } from "./dom.js";
import { connectPage } from "./page.js";
import { mountControlFloor } from "./control_floor.js";
import { mountRoomsControl } from "./control_rooms.js";
import { startI18n } from "../i18n.js";

await startI18n();

const state = { snapshot: null, you: null, selected: null, speakers: new Map() };
const ownZone = Intl.DateTimeFormat().resolvedOptions().timeZone;

/** Which timeline buttons can work now (the server checks again; this keeps the page honest). */
export function timelineMoves(tl, selected) {
  const current = tl.items.find((i) => i.id === tl.current && (i.status === "live" || i.status === "paused"));
  const scheduled = tl.items.filter((i) => i.status === "scheduled");
  const sel = selected?.status;
  return {
    start: selected ? sel === "scheduled" : scheduled.length > 0,
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

function render() {
  const snap = state.snapshot;
  if (!snap) return;
  const tl = snap.timeline;
  $("version").textContent = `v${tl.version}`;
  const current = tl.items.find((i) => i.id === tl.current);
  $("current").textContent = current ? current.title : "–";
  const selected = tl.items.find((i) => i.id === state.selected);
  $("selected").textContent = selected ? selected.title : "–";
  renderAgenda($("agenda"), tl, {
    eventZone: snap.event.timezone,
    ownZone: state.you?.timezone || ownZone,
    onSelect(item) { state.selected = item.id; render(); },
  });
  for (const row of $$("tr[data-item]", $("agenda"))) {
    if (row.dataset.item === state.selected) row.classList.add("selected");
  }
  const possible = timelineMoves(tl, selected);
  for (const button of $$("#timeline-controls button[data-action]")) {
    button.disabled = !possible[button.dataset.action];
  }
  $("speakers").replaceChildren(...[...state.speakers.values()].map((p) => speakerItem(p)));
  const floor = snap.floor;
  $("floor-holder").textContent = floor.holder ? `${floor.holder.name} (${floor.holder.city})` : "nobody";
  const sel = $("floor-language");
  if (!sel.options.length) {
    for (const lang of snap.event.languages) sel.append(el("option", { value: lang }, lang));
  }
  sel.value = floor.language;
}

function speakerItem(p) {
  const give = el("button", { "data-person": p.id }, "Give the floor");
  give.addEventListener("click", () => live.request({ type: "floor", action: "give", person_id: p.id }).then(() => banner(""), (e) => banner(e.message)));
  return el("li", {}, `${p.name} (${p.city}) `, give);
}

function renderTech(view) {
  $("tech").hidden = false;
  $("alarms").replaceChildren(...view.alarms.map((a) => el("li", { class: `alarm ${a.severity}` }, a.message)));
  $("tech-booths").replaceChildren(...view.booths.map((b) => {
    const live = b.members.find((m) => m.live);
    const members = b.members.map((m) => `${m.name || m.seat}${m.connected ? "" : " (away)"}`).join(", ");
    const level = live ? b.levels_dbfs?.[live.person] : null;
    return el("tr", {}, el("td", {}, `${b.id} (${b.language})`), el("td", {}, live ? (live.name || live.seat) : "floor"),
      el("td", {}, members), el("td", {}, level == null ? "–" : `${level} dBFS`),
      el("td", {}, b.live_minutes == null ? "–" : `${b.live_minutes} min`));
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
    (err) => banner(err.code === "conflict"
      ? `Conflict: someone changed the timeline first (${err.message}). The view is now up to date; check and try again.`
      : err.message),
  );
}

function reorderUp() {
  const tl = state.snapshot.timeline;
  const scheduled = tl.items.filter((i) => i.status === "scheduled").map((i) => i.id);
  const idx = scheduled.indexOf(state.selected);
  if (idx <= 0) return banner("Select a scheduled item that is not the first one.");
  [scheduled[idx - 1], scheduled[idx]] = [scheduled[idx], scheduled[idx - 1]];
  return command("reorder", { order: scheduled });
}

for (const button of $$("#timeline-controls button")) {
  button.addEventListener("click", () => {
    const action = button.dataset.action;
    if (action === "up") return reorderUp();
    if (action === "extend") return command("extend", { minutes: Number(button.dataset.minutes) });
    if (action === "skip" || action === "jump") {
      if (!state.selected) return banner("Select an item in the agenda first.");
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

export const live = connectPage({
  onWelcome(msg) {
    state.snapshot = msg.snapshot;
    state.you = msg.you;
    state.speakers = new Map((msg.snapshot.speakers || []).map((p) => [p.id, p]));
    $("record").checked = !!msg.snapshot.recording;
    $("who").textContent = `${msg.you.name} · ${msg.you.role}`;
    render();
    document.dispatchEvent(new CustomEvent("simultan:welcome", { detail: msg }));
  },
  onEvent(msg) {
    if (msg.name === "timeline") state.snapshot.timeline = msg.data.timeline;
    else if (msg.name === "floor") state.snapshot.floor = msg.data.floor;
    else if (msg.name === "slow_down") {
      const box = $("slow-down");
      box.hidden = false;
      box.textContent = `The ${msg.data.booth} booth asks the speaker to slow down (${new Date().toLocaleTimeString()}).`;
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
window.simultan = { live, state, command };
mountControlFloor({ live, state });
mountRoomsControl({ live });
