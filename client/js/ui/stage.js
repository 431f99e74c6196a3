// The participant's stage: floor video with who is speaking, the language picker in native
// names, what the chosen channel carries right now (interpretation, or the original when no
// interpreter is live), volume and the original-under-interpretation mix, notices as a
// banner and a live region, and the agenda in the viewer's and the event's time zones.
import { renderAgenda, announceChanges } from "./agenda.js";
import { $, banner, el } from "./dom.js";
import { connectPage } from "./page.js";
import { mountFloorPanel } from "./floor_panel.js";
import { mountRooms } from "./stage_rooms.js";
import { mountRunOfShow } from "./runofshow.js";
import { hearing } from "../listening.js";
import {
  followRegistration, languageName, mountLanguagePicker, nativeName, onLanguageChange,
  startI18n, t,
} from "../i18n.js";

await startI18n();
mountLanguagePicker(/** @type {HTMLSelectElement} */ ($("page-language")));

/** @type {{snapshot: any, you: any, media: any, listening: boolean, connecting: boolean}} */
const state = { snapshot: null, you: null, media: null, listening: false, connecting: false };
const ownZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
const runOfShow = mountRunOfShow($("run-of-show"), () => state.snapshot);

function renderChannels(snap) {
  const select = /** @type {HTMLSelectElement} */ ($("channel"));
  const floorLanguage = snap.floor?.language || snap.event.floor_language;
  const chosen = select.value;
  select.replaceChildren(...snap.event.languages.map((/** @type {string} */ lang) => {
    const name = nativeName(lang);
    const option = el("option", { value: lang, lang },
      lang === floorLanguage ? t("stage.floor_option", { language: name }) : name);
    return option;
  }));
  if (chosen && snap.event.languages.includes(chosen)) select.value = chosen;
  else {
    select.value = state.you?.language && snap.event.languages.includes(state.you.language)
      ? state.you.language : snap.event.floor_language;
  }
}

function renderHearing(snap) {
  const now = hearing(snap, /** @type {HTMLSelectElement} */ ($("channel")).value);
  const box = $("hearing");
  const language = languageName(now.language);
  box.textContent = now.kind === "fallback" ? t("stage.fallback")
    : now.kind === "original" ? t("stage.hearing_original", { language })
      : t("stage.hearing_channel", { language });
  box.className = `hearing ${now.kind}`;
  box.dataset.kind = now.kind;
}

function render() {
  const snap = state.snapshot;
  if (!snap) return;
  const zone = state.you?.timezone || ownZone;
  renderAgenda($("agenda"), snap.timeline, { eventZone: snap.event.timezone, ownZone: zone });
  const holder = snap.floor?.holder;
  // the language the shown speaker speaks (the floor's follows it after a debounce)
  const shown = (snap.floor?.live || []).find((/** @type {any} */ s) => s.person_id === snap.floor.shown);
  $("floor-holder").textContent = holder
    ? t("stage.speaking", {
      name: holder.name, city: holder.city,
      language: languageName(shown?.language || snap.floor.language || snap.event.floor_language),
    })
    : t("stage.nobody_speaking");
  renderChannels(snap);
  renderHearing(snap);
  const listening = state.connecting ? "stage.connecting" : "stage.listening";
  $("listen").textContent = t(state.listening ? listening : "stage.start");
}

function showNotice(text) {
  const bar = $("notice-banner");
  bar.hidden = false;
  bar.textContent = t("stage.notice", { text });
  $("notices").hidden = false;
  $("notice-list").prepend(el("li", {}, text));
}

export const live = connectPage({
  async onWelcome(msg) {
    state.snapshot = msg.snapshot;
    state.you = msg.you;
    $("who").textContent = `${msg.you.name} · ${msg.you.city}`;
    await followRegistration(msg.you.language);
    render();
    runOfShow.welcome(msg.snapshot);
    document.dispatchEvent(new CustomEvent("simultan:welcome", { detail: msg }));
  },
  onEvent(msg) {
    const snap = state.snapshot;
    runOfShow.follow(msg);
    if (msg.name === "timeline") {
      announceChanges($("agenda-live"), snap.timeline, msg.data.timeline);
      snap.timeline = msg.data.timeline;
    } else if (msg.name === "floor") {
      snap.floor = msg.data.floor;
      if (msg.data.routing) snap.routing = msg.data.routing;
    } else if (msg.name === "booth") {
      if (snap.booths) snap.booths[msg.data.booth.id] = msg.data.booth;
      if (msg.data.routing) snap.routing = msg.data.routing;
    } else if (msg.name === "slow_down") {
      const n = /** @type {HTMLElement & {timer?: number}} */ ($("slow-down"));
      n.hidden = false;
      n.textContent = t("stage.slow_down");
      clearTimeout(n.timer);
      n.timer = setTimeout(() => { n.hidden = true; }, 15000);
    } else if (msg.name === "notice") {
      showNotice(msg.data.text);
    } else if (msg.name === "rooms") {
      snap.rooms = msg.data.rooms;
    }
    render();
    document.dispatchEvent(new CustomEvent("simultan:event", { detail: msg }));
  },
});
onLanguageChange(render);
$("audio-only").addEventListener("change", async (ev) => {
  const on = /** @type {HTMLInputElement} */ (ev.target).checked;
  try {
    await window.simultan.media?.session.setAudioOnly(on);
  } catch (err) {
    banner(t("stage.media_error", { message: err.message }));
  }
});
$("channel").addEventListener("change", () => { if (state.snapshot) renderHearing(state.snapshot); });
const roomsUi = mountRooms({ state });
document.addEventListener("simultan:welcome", () => { roomsUi.follow(); });
window.simultan = { live, state, media: null, rooms: roomsUi };
mountFloorPanel({ live, state });
let problemShown = false;

$("listen").addEventListener("click", async () => {
  const button = /** @type {HTMLButtonElement} */ ($("listen"));
  button.disabled = true;
  try {
    const { startStageMedia } = await import("./stage_media.js");
    window.simultan.media = await startStageMedia({
      live, state,
      video: /** @type {HTMLVideoElement} */ ($("floor-video")),
      select: /** @type {HTMLSelectElement} */ ($("channel")),
      original: /** @type {HTMLInputElement} */ ($("original")),
      volume: /** @type {HTMLInputElement} */ ($("volume")),
      onError: (text) => banner(text),
      // Media that will not connect says so, with what to try (never "listening" over silence).
      // Audio before video: the server paused this tab's video on a weak link (or resumed it).
      onMedia: (msg) => {
        if (msg.video_paused === null || msg.video_paused === undefined) return;
        const note = $("media-note");
        note.hidden = !msg.video_paused;
        note.textContent = msg.video_paused ? t("media.video_paused") : "";
      },
      onProblem: (text) => {
        if (text || problemShown) banner(text ? t("media.cannot_connect") : "");
        problemShown = !!text;
        state.connecting = !!text;
        render();
      },
    });
    state.media = window.simultan.media;
    state.listening = true;
    // "Listening" only once the sound is connected (onProblem(null) follows "connected").
    state.connecting = window.simultan.media.session.pc.connectionState !== "connected";
    render();
    document.dispatchEvent(new CustomEvent("simultan:media"));
  } catch (err) {
    button.disabled = false;
    banner(t("stage.media_error", { message: err.message }));
  }
});
