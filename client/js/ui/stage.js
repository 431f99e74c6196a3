// The participant's stage: live agenda (own and event time zones) and, with the media plane,
// floor video, a language selector and the original-under-interpretation mix.
import { renderAgenda } from "./agenda.js";
import { $, banner, el } from "./dom.js";
import { connectPage } from "./page.js";

const state = { snapshot: null, you: null };
const ownZone = Intl.DateTimeFormat().resolvedOptions().timeZone;

function render() {
  const snap = state.snapshot;
  if (!snap) return;
  const zone = state.you?.timezone || ownZone;
  renderAgenda($("agenda"), snap.timeline, { eventZone: snap.event.timezone, ownZone: zone });
  const holder = snap.floor?.holder;
  $("floor-holder").textContent = holder ? `On the floor: ${holder.name} (${holder.city})` : "";
  const select = $("channel");
  if (!select.options.length) {
    for (const lang of snap.event.languages) {
      select.append(el("option", { value: lang }, lang === snap.event.floor_language ? `${lang} (floor)` : lang));
    }
    select.value = state.you?.language && snap.event.languages.includes(state.you.language)
      ? state.you.language : snap.event.floor_language;
  }
}

export const live = connectPage({
  onWelcome(msg) {
    state.snapshot = msg.snapshot;
    state.you = msg.you;
    $("who").textContent = `${msg.you.name} · ${msg.you.city}`;
    render();
    document.dispatchEvent(new CustomEvent("simultan:welcome", { detail: msg }));
  },
  onEvent(msg) {
    const snap = state.snapshot;
    if (msg.name === "timeline") snap.timeline = msg.data.timeline;
    else if (msg.name === "floor") snap.floor = msg.data.floor;
    else if (msg.name === "slow_down") {
      const n = $("slow-down");
      n.hidden = false;
      n.textContent = "The interpreters ask you to slow down a little.";
      clearTimeout(n.timer);
      n.timer = setTimeout(() => { n.hidden = true; }, 15000);
    } else if (msg.name === "notice") {
      const n = $("notices");
      n.hidden = false;
      n.prepend(el("p", {}, msg.data.text));
    }
    render();
    document.dispatchEvent(new CustomEvent("simultan:event", { detail: msg }));
  },
});
window.simultan = { live, state, media: null };

$("listen").addEventListener("click", async () => {
  $("listen").disabled = true;
  try {
    const { startStageMedia } = await import("./stage_media.js");
    window.simultan.media = await startStageMedia({
      live, state, video: $("floor-video"), select: $("channel"), original: $("original"),
      onError: (text) => banner(text),
    });
    $("listen").textContent = "Listening";
  } catch (err) {
    $("listen").disabled = false;
    banner(`Media: ${err.message}`);
  }
});
