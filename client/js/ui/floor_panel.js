// The participant's side of the floor on the stage page: raise and lower a hand (button and
// the "h" key) with the language one will speak, one's place in the queue, "you are on next"
// with a camera and microphone check, "you are live" with one's own preview and level, and
// who is speaking now ("interpreted from Japanese" when the channel is an interpretation).
// The server decides (core/floor.py); this only shows the floor and sends requests.
import { $, banner, el } from "./dom.js";
import { languageName, nativeName, t } from "../i18n.js";
import { hearing } from "../listening.js";

/** @typedef {{person_id: string, language: string, muted: boolean}} LiveSpeaker */

/**
 * @param {{live: any, state: any}} page
 */
export function mountFloorPanel(page) {
  const { live, state } = page;
  const button = /** @type {HTMLButtonElement} */ ($("raise-hand"));
  const language = /** @type {HTMLSelectElement} */ ($("hand-language"));
  /** @type {MediaStream | null} */
  let check = null;

  const me = () => state.you?.id;
  const floor = () => state.snapshot?.floor || { live: [], hands: [], invited: [], people: {} };

  function render() {
    const snap = state.snapshot;
    if (!snap || !state.you) return;
    const f = floor();
    const people = f.people || {};
    if (!language.options.length) {
      language.replaceChildren(...snap.event.languages.map((/** @type {string} */ lang) =>
        el("option", { value: lang, lang }, nativeName(lang))));
      language.value = snap.event.languages.includes(state.you.language)
        ? state.you.language : snap.event.floor_language;
    }
    const mine = (f.live || []).find((/** @type {LiveSpeaker} */ s) => s.person_id === me());
    const place = (f.hands || []).findIndex((/** @type {any} */ h) => h.person_id === me()) + 1;
    const invited = (f.invited || []).includes(me());
    button.hidden = !!mine;
    $("hand-control").hidden = !!mine; // live: "I am speaking" below says it instead
    button.setAttribute("aria-pressed", place ? "true" : "false");
    button.textContent = t(place ? "floor.lower_hand" : "floor.raise_hand");
    language.disabled = !!place;
    $("hand-place").textContent = place ? t("floor.place", { n: place }) : "";
    $("on-next").hidden = !invited;
    $("live-box").hidden = !mine;
    const speaking = /** @type {HTMLSelectElement} */ ($("live-language"));
    if (!speaking.options.length) {
      speaking.replaceChildren(...snap.event.languages.map((/** @type {string} */ lang) =>
        el("option", { value: lang, lang }, nativeName(lang))));
    }
    if (mine && document.activeElement !== speaking) speaking.value = mine.language;
    $("live-state").textContent = mine
      ? t(mine.muted ? "floor.you_are_muted" : "floor.you_are_live") : "";
    // Who is speaking: every live speaker; the shown one first.
    const order = [...(f.live || [])].sort((/** @type {LiveSpeaker} */ a, /** @type {LiveSpeaker} */ b) =>
      Number(b.person_id === f.shown) - Number(a.person_id === f.shown));
    $("speaking-list").replaceChildren(...order.map((/** @type {LiveSpeaker} */ s) => {
      const p = people[s.person_id] || { name: "?", city: "" };
      const text = t(s.muted ? "floor.speaker_muted" : "floor.speaker", {
        name: p.name, city: p.city, language: languageName(s.language),
      });
      return el("li", { "data-person": s.person_id, class: s.person_id === f.shown ? "shown" : "" }, text);
    }));
    const channel = /** @type {HTMLSelectElement | null} */ ($("channel"));
    const now = channel ? hearing(snap, channel.value) : null;
    $("interpreted-from").textContent = now && now.kind === "interpretation" && f.live?.length
      ? t("floor.interpreted_from", { language: languageName(f.language) }) : "";
  }

  async function toggleHand() {
    const raised = button.getAttribute("aria-pressed") === "true";
    try {
      await live.request({ type: "raise_hand", raised: !raised, language: language.value });
      banner("");
    } catch (err) {
      // "unchanged": the hand already is as asked (another tab did it); the next floor
      // event shows it, nothing to say
      if (err.code !== "unchanged") banner(err.message);
    }
  }

  // Live: the language one speaks (the floor language follows the active speaker's).
  const speaking = /** @type {HTMLSelectElement} */ ($("live-language"));
  speaking.addEventListener("change", async () => {
    try {
      await live.request({ type: "floor", action: "language", language: speaking.value });
      banner("");
    } catch (err) {
      banner(err.message);
      render();
    }
  });

  button.addEventListener("click", toggleHand);
  document.addEventListener("keydown", (ev) => {
    const target = /** @type {HTMLElement} */ (ev.target);
    if (ev.key !== "h" || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (target.closest("input, select, textarea, [contenteditable]")) return;
    if (!button.hidden) { ev.preventDefault(); toggleHand(); }
  });
  $("check-devices").addEventListener("click", async () => {
    try {
      check = check || await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
      showPreview(check);
    } catch (err) {
      banner(t("stage.camera_error", { message: err.message }));
    }
  });

  /** The own camera in the preview, the own microphone on the meter. */
  function showPreview(stream) {
    const video = /** @type {HTMLVideoElement} */ ($("self-preview"));
    video.srcObject = stream;
    video.play?.().catch(() => {});
    const meter = /** @type {HTMLMeterElement} */ ($("self-level"));
    const context = new AudioContext();
    const analyser = context.createAnalyser();
    analyser.fftSize = 2048;
    context.createMediaStreamSource(stream).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    const tick = () => {
      if (!stream.active) { context.close(); return; }
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const s of samples) sum += s * s;
      meter.value = Math.min(1, Math.sqrt(sum / samples.length) * 4);
      requestAnimationFrame(tick);
    };
    tick();
  }

  document.addEventListener("simultan:publishing", (ev) => {
    const stream = /** @type {CustomEvent} */ (ev).detail;
    if (stream) showPreview(stream);
  });
  document.addEventListener("simultan:welcome", render);
  document.addEventListener("simultan:event", (ev) => {
    const msg = /** @type {CustomEvent} */ (ev).detail;
    if (msg.name !== "floor") return;
    render();
    // Given the floor before listening: start the media (it publishes from there).
    const f = floor();
    const mine = (f.live || []).some((/** @type {LiveSpeaker} */ s) => s.person_id === me());
    if (mine && !window.simultan?.media) $("listen")?.click();
  });
  $("channel")?.addEventListener("change", render);
  render();
  return { render };
}
