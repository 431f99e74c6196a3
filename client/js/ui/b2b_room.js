// A B2B meeting's room on the B2B page: one live connection and one peer connection for the
// meeting. The tab joins the meeting (`b2b_join`, admitted from its start until its end),
// publishes camera and microphone as a member and receives each other company on a member
// slot (audio and video); with an interpreter booked, the channel slot carries the
// interpretation into the person's language (the original is then heard softer), or, when the
// person chooses the original (`b2b_hear`), nothing (the original alone). The
// server's `b2b_room` events (open, ending, grace, closed) come back through `onEvent`.
import { LiveConnection, wsUrl } from "../protocol.js";
import { connectMedia } from "../media.js";
import { Mixer, dominantFrequency, levelMeter } from "../audiomix.js";
import { t } from "../i18n.js";
import { el } from "./dom.js";
import { errorText } from "./b2b_errors.js";

const ORIGINAL_UNDER = 0.25; // the companies' own voices under an interpretation

/** @type {any} */
let current = null;

/**
 * Open the websocket once per page (events also arrive while no meeting is joined).
 * @param {string} token @param {(ev: any) => void} onEvent
 */
export function connectLive(token, onEvent) {
  /** @type {(msg: any) => void} */
  let welcomed = () => {};
  /** @type {Promise<any>} */
  const ready = new Promise((resolve) => { welcomed = resolve; });
  const live = new LiveConnection({
    url: wsUrl(), token, onEvent, onWelcome: (/** @type {any} */ msg) => welcomed(msg),
  });
  live.connect();
  return { live, ready };
}

/**
 * Enter meeting `m`: join, then media with one member slot per other participant.
 * @param {any} m @param {{live: any, you: any, box: HTMLElement, hearing: HTMLElement,
 *   nameOf: (id: string) => string, choice?: HTMLElement | null}} opts
 */
export async function joinMeeting(m, { live, you, box, hearing, nameOf, choice = null }) {
  if (current) await leaveMeeting();
  const joined = (await live.request({ type: "b2b_join", meeting: m.id })).data;
  const others = joined.participants.filter((/** @type {string} */ p) => p !== you.id);
  const interpreted = joined.interpreter !== null && joined.interpreter !== you.id;
  // The automatic choice: the interpretation when one's language is one of the pair.
  const interpreting = interpreted && joined.languages.includes(you.language);
  const channel = interpreting ? you.language : null;
  const room = {
    id: m.id, live, stream: null, session: null, slots: [], mixer: null, mixMeter: null,
    hear: interpreting ? "interpretation" : "original", channel, languages: joined.languages,
    hearing, choice,
  };
  current = room;
  try {
    room.stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: joined.interpreter !== you.id });
    room.session = await connectMedia({
      live, publish: "member", channel, localStream: room.stream, listenToFloorVideo: false,
    });
    room.mixer = new Mixer();
    const pc = room.session.pc;
    room.slots = others.map((/** @type {string} */ who) => {
      const audioT = pc.addTransceiver("audio", { direction: "recvonly" });
      const videoT = pc.addTransceiver("video", { direction: "recvonly" });
      const stream = new MediaStream([audioT.receiver.track, videoT.receiver.track]);
      const video = el("video", { autoplay: true, playsInline: true, muted: true });
      video.srcObject = stream;
      video.play?.().catch(() => {});
      box.append(el("figure", { className: "member-tile", "data-person": who }, video,
        el("figcaption", {}, nameOf(who))));
      room.mixer.add(who, stream, channel ? ORIGINAL_UNDER : 1);
      return { who, stream, meter: levelMeter(stream, { context: room.mixer.context }) };
    });
    if (interpreted) room.mixer.add("channel", room.session.channelAudio, channel ? 1 : 0);
    room.channelMeter = levelMeter(room.session.channelAudio, { context: room.mixer.context });
    // What this side hears (the mix): for its choice, and for tests.
    room.mixMeter = room.mixer.context.createAnalyser();
    room.mixMeter.fftSize = 8192;
    room.mixMeter.smoothingTimeConstant = 0;
    room.mixer.master.connect(room.mixMeter);
    await room.session.negotiate();
    room.mixer.resume();
    showHearing(room);
    if (choice) {
      choice.hidden = !interpreted;
      const label = choice.querySelector("#hear-interpretation");
      if (label) label.textContent = t("b2b.hear_interpretation", { languages: joined.languages.join("–") });
      for (const input of choice.querySelectorAll("input")) input.checked = input.value === room.hear;
      choice.onchange = (/** @type {Event} */ e) => {
        const input = /** @type {HTMLInputElement} */ (e.target);
        if (input.checked) hear(/** @type {"interpretation"|"original"} */ (input.value)).catch(() => {});
      };
    }
  } catch (err) {
    await leaveMeeting();
    throw err;
  }
  return room;
}

function showHearing(/** @type {any} */ room) {
  room.hearing.textContent = room.hear === "interpretation"
    ? t("b2b.hearing_interpretation", { language: room.channel || room.languages[0] })
    : t("b2b.hearing_original");
}

/**
 * Hear the interpretation or the original in this meeting: the server re-points the channel
 * slot (`b2b_hear`), then the page mixes the original softer under the interpretation, or
 * alone. A refusal keeps the previous choice (and says why on the hearing line).
 * @param {"interpretation" | "original"} what
 */
export async function hear(what) {
  const room = current;
  if (!room) return;
  try {
    const reply = (await room.live.request({ type: "b2b_hear", hear: what })).data;
    if (current !== room) return;
    room.hear = what;
    room.channel = reply.channel;
    const interpretation = what === "interpretation";
    room.mixer.setGain("channel", interpretation ? 1 : 0);
    for (const slot of room.slots) room.mixer.setGain(slot.who, interpretation ? ORIGINAL_UNDER : 1);
    showHearing(room);
  } catch (/** @type {any} */ err) {
    for (const input of room.choice?.querySelectorAll("input") || []) input.checked = input.value === room.hear;
    room.hearing.textContent = errorText(err);
    throw err;
  }
}

/** Leave the meeting's room: stop the camera and microphone, close the peer connection. */
export async function leaveMeeting() {
  const room = current;
  if (!room) return;
  current = null;
  if (room.choice) { room.choice.hidden = true; room.choice.onchange = null; }
  room.mixMeter?.disconnect();
  for (const slot of room.slots) slot.meter.close();
  room.channelMeter?.close();
  if (room.mixer) room.mixer.close();
  for (const track of room.stream?.getTracks() || []) track.stop();
  if (room.session) room.session.close();
  try {
    await room.live.request({ type: "b2b_leave" });
  } catch { /* the server closed the room already */ }
}

/** For tests and diagnostics: the dominant frequency heard from member slot i (or the channel). */
export function frequency(/** @type {number | "channel" | "mix"} */ i) {
  if (!current) return 0;
  if (i === "mix") return current.mixMeter ? dominantFrequency(current.mixMeter) : 0;
  const meter = i === "channel" ? current.channelMeter : current.slots[i]?.meter;
  return meter ? dominantFrequency(meter.analyser) : 0;
}

/** For tests and diagnostics: the meeting's choice ("interpretation" or "original"). */
export function hearing() { return current ? current.hear : null; }

export function inMeeting() { return current ? current.id : null; }
