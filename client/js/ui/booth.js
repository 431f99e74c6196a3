// The interpreter's console: what the booth hears, the mic with handover request/accept,
// cough, slow-down, booth chat, on-mic timer with a rotation reminder, and agenda cues.
import { clock } from "../protocol.js";
import { $, $$, banner, el } from "./dom.js";
import { connectPage } from "./page.js";
import { startI18n } from "../i18n.js";

await startI18n();

const state = { snapshot: null, you: null, media: null, localStream: null, offset: 0 };
// The server's clock, not this computer's: cues and timers follow the event's time.
const serverNow = () => Date.now() + state.offset;
const setting = (name, fallback) => state.snapshot?.booth_settings?.[name] ?? fallback;

function myBooth() {
  return state.snapshot?.booths?.[state.you?.booth];
}

function sourceText(src) {
  if (!src || src.kind === "floor") return "the floor";
  return `relay from the ${src.booth} booth`;
}

function render() {
  const snap = state.snapshot;
  if (!snap) return;
  const booth = myBooth();
  const me = state.you.id;
  if (booth) {
    $("booth-name").textContent = `${booth.id} booth (${booth.language})`;
    const live = booth.live === me;
    $("on-air").textContent = live ? (booth.coughing ? "MUTED" : "ON AIR") : "OFF AIR";
    $("on-air").className = `on-air ${live ? "on" : "off"}`;
    const pending = booth.pending;
    let text = booth.live ? (live ? "You hold the mic." : "Your partner holds the mic.") : "Nobody holds the mic: the channel carries the floor.";
    if (pending) {
      const kind = pending.kind === "offer" ? "offers the mic to" : "asks for the mic from";
      const from = pending.from_person === me ? "You" : pending.from_person ? "Your partner" : "The booth";
      const to = pending.to_person === me ? "you" : "your partner";
      text += pending.kind === "offer" ? ` ${from} ${kind} ${to}.` : ` ${pending.to_person === me ? "You" : "Your partner"} ${kind} ${pending.to_person === me ? "your partner" : "you"}.`;
    }
    $("booth-state").textContent = text;
    // Only the moves that make sense now: the server refuses the others anyway.
    const responder = pending && (pending.kind === "offer" ? pending.to_person : pending.from_person);
    const initiator = pending && (pending.kind === "offer" ? pending.from_person : pending.to_person);
    const show = {
      take: !booth.live,
      offer: live && !pending,
      request: !!booth.live && !live && !pending,
      accept: responder === me,
      decline: responder === me,
      cancel: !!pending && initiator === me,
      release: live,
    };
    for (const button of $$("[data-booth]")) {
      button.hidden = !show[button.dataset.booth];
    }
    $("cough").hidden = !live;
    // the partner is heard (lower) only on standby: on air, only what you interpret from
    if (state.media) state.media.mix.setPartnerVolume(live ? 0 : Number($("partner-volume").value));
    const minutes = booth.live_since ? (serverNow() - Date.parse(booth.live_since)) / 60000 : 0;
    $("mic-timer").textContent = live ? `${Math.floor(minutes)} min on the mic` : "";
    const rotation = setting("rotation_minutes", 30);
    const due = live && minutes >= rotation;
    if (due) $("mic-timer").textContent += ` · ${rotation} min: time to hand over`;
    $("mic-timer").classList.toggle("late", due);
  }
  const hears = snap.routing?.booth_hears?.[state.you.booth];
  $("hearing").textContent = sourceText(hears);
  renderNowNext();
}

function renderNowNext() {
  const tl = state.snapshot.timeline;
  const zone = state.snapshot.event.timezone;
  const current = tl.items.find((i) => i.id === tl.current);
  const next = tl.items.find((i) => i.status === "scheduled");
  const box = $("now-next");
  box.replaceChildren();
  for (const [label, item] of [["Now", current], ["Next", next]]) {
    if (!item) continue;
    const speakers = (item.speakers || []).map((s) => `${s.name} (${s.language})`).join(", ");
    box.append(el("p", {}, el("strong", {}, `${label}: `), `${clock(item.expected_start || item.planned_start, zone)} ${item.title}`,
      speakers ? el("span", { class: "muted" }, ` · ${speakers}`) : ""));
  }
  const cue = $("cue");
  if (next && next.expected_start) {
    const minutes = (Date.parse(next.expected_start) - serverNow()) / 60000;
    cue.hidden = !(minutes >= 0 && minutes <= setting("cue_minutes", 5));
    const langs = [...new Set((next.speakers || []).map((s) => s.language))].join(", ");
    cue.textContent = `Coming up in ${Math.max(0, Math.round(minutes))} min: ${next.title}${langs ? ` (speakers in ${langs})` : ""}`;
  } else {
    cue.hidden = true;
  }
}

function partnerId() {
  const others = (myBooth()?.members || []).filter((m) => m.person !== state.you.id);
  return (others.find((m) => m.connected) || others[0])?.person;
}

async function boothAction(action, extra = {}) {
  try {
    await live.request({ type: "booth", booth: state.you.booth, action, ...extra });
    banner("");
  } catch (err) {
    banner(err.message);
  }
}

for (const button of $$("[data-booth]")) {
  button.addEventListener("click", () => {
    const action = button.dataset.booth;
    if (action === "offer") return boothAction("offer", { to: partnerId() });
    return boothAction(action);
  });
}

function cough(on) {
  if (state.localStream) for (const t of state.localStream.getAudioTracks()) t.enabled = !on;
  boothAction("cough", { on });
}
$("cough").addEventListener("pointerdown", () => cough(true));
$("cough").addEventListener("pointerup", () => cough(false));
$("slow-down").addEventListener("click", () => live.request({ type: "slow_down" }).catch((e) => banner(e.message)));
$("chat-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const text = $("chat-text").value.trim();
  if (!text) return;
  live.request({ type: "booth_chat", booth: state.you.booth, text }).then(() => { $("chat-text").value = ""; }, (e) => banner(e.message));
});

$("start-audio").addEventListener("click", async () => {
  try {
    const { startBoothMedia } = await import("./booth_media.js");
    state.media = await startBoothMedia(live, state, $("partner-volume"), $("mic-level"));
    $("start-audio").disabled = true;
    $("start-audio").textContent = "Audio connected";
  } catch (err) {
    banner(`Audio: ${err.message}`);
  }
});

export const live = connectPage({
  onWelcome(msg) {
    state.snapshot = msg.snapshot;
    state.you = msg.you;
    state.offset = Date.parse(msg.snapshot.server_time) - Date.now();
    $("who").textContent = `${msg.you.name}`;
    render();
  },
  onEvent(msg) {
    const snap = state.snapshot;
    if (msg.name === "timeline") {
      snap.timeline = msg.data.timeline;
      state.offset = Date.parse(msg.data.timeline.as_of) - Date.now();
    } else if (msg.name === "floor") { snap.floor = msg.data.floor; snap.routing = msg.data.routing; }
    else if (msg.name === "booth") {
      snap.booths[msg.data.booth.id] = msg.data.booth;
      if (msg.data.routing) snap.routing = msg.data.routing;
    } else if (msg.name === "booth_chat") {
      $("chat").append(el("li", {}, el("strong", {}, `${msg.data.by.name}: `), msg.data.text));
    }
    render();
    document.dispatchEvent(new CustomEvent("simultan:event", { detail: msg }));
  },
});
window.simultan = { live, state };
setInterval(render, 15000);
